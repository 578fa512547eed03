"""Infrastructure-as-code scanning (``scan-iac``): Terraform, Kubernetes and Helm, Dockerfiles
and Compose files, read with bounded parsers and checked by secpipe's own rules."""
