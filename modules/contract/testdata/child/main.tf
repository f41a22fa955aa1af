resource "aws_thing" "this" {
  name = var.name
}

module "part" {
  source = "./modules/part"
}

output "id" {
  value = aws_thing.this.id
}

output "secret" {
  value     = aws_thing.this.secret
  sensitive = true
}
