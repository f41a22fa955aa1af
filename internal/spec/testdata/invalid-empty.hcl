# An environment file with no environment in it.
variable "x" {
  default = 1
}
