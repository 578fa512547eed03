variable "private_subnet_id" {
  type = string
}

variable "worker_sg_id" {
  type = string
}

variable "kms_key_arn" {
  type = string
}
