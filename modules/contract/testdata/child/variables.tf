variable "name" {
  type = string
}

variable "size" {
  type    = number
  default = 1
}

variable "pool" {
  type = object({
    name  = string
    count = optional(number, 1)
  })
  default = null
}

variable "labels" {
  type    = map(string)
  default = {}
}

variable "zone" {
  type     = string
  default  = "a"
  nullable = false
}
