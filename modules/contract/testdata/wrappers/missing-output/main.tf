module "child" {
  source  = "example/child/aws"
  version = "1.0.0"

  name = "x"
}

locals {
  id = module.child.idd
}

output "other" {
  value = module.other.id
}
