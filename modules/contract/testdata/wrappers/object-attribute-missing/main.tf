module "child" {
  source  = "example/child/aws"
  version = "1.0.0"

  name = "x"
  pool = { count = 2 }
}
