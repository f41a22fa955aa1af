terraform {
  required_version = "~> 1.9.0"
}

module "child" {
  source  = "example/child/aws"
  version = "1.0.0"

  name = "x"
}
