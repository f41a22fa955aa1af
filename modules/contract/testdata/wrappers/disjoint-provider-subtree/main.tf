terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.5.0"
    }
  }
}

module "child" {
  source  = "example/child/aws"
  version = "1.0.0"

  name = "x"
}
