resource "aws_db_subnet_group" "main" {
  name       = "main"
  subnet_ids = var.db_subnet_ids
}

resource "aws_db_instance" "primary" {
  identifier              = "orders-primary"
  engine                  = "postgres"
  engine_version          = "16.3"
  instance_class          = "db.r6g.large"
  allocated_storage       = 200
  storage_encrypted       = true
  kms_key_id              = var.kms_key_arn
  db_subnet_group_name    = aws_db_subnet_group.main.name
  publicly_accessible     = false
  backup_retention_period = 14
  username                = "orders_admin"
  manage_master_user_password = true
}

resource "aws_db_instance" "replica" {
  identifier          = "orders-replica"
  replicate_source_db = aws_db_instance.primary.identifier
  instance_class      = "db.r6g.large"
  publicly_accessible = false
  skip_final_snapshot = true
}

resource "aws_db_instance" "reporting" {
  identifier          = "reporting"
  engine              = "mysql"
  engine_version      = "8.0"
  instance_class      = "db.t3.medium"
  allocated_storage   = 50
  storage_encrypted   = false
  publicly_accessible = true
  username            = "report"
  password            = var.reporting_password
  skip_final_snapshot = true
}

resource "aws_rds_cluster" "analytics" {
  cluster_identifier          = "analytics"
  engine                      = "aurora-postgresql"
  engine_version              = "15.4"
  master_username             = "analytics"
  manage_master_user_password = true
  db_subnet_group_name        = aws_db_subnet_group.main.name
}

variable "db_subnet_ids" {
  type = list(string)
}

variable "reporting_password" {
  type      = string
  sensitive = true
}
