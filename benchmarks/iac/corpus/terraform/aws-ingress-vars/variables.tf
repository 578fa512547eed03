variable "vpc_id" {
  type = string
}

variable "admin_cidrs" {
  description = "Ranges allowed to reach the operator port"
  type        = list(string)
  default     = ["0.0.0.0/0"]
}
