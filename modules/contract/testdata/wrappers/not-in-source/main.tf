module "child" {
  source  = "example/other/aws"
  version = "1.0.0"

  name = "x"
}
