module "child" {
  source  = "example/child/aws"
  version = "1.0.0"

  size = 2
}
