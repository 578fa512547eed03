variable "region" {
  type    = string
  default = "us-west-2"
}

variable "vpc_id" {
  type = string
}

variable "ssh_cidrs" {
  type    = list(string)
  default = ["10.0.0.0/8"]
}

variable "corp_prefix_list_id" {
  type = string
}

variable "public_nacl_id" {
  type = string
}

variable "encrypt_volumes" {
  type    = bool
  default = false
}

variable "db_public" {
  type    = bool
  default = true
}
