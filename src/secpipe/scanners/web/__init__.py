"""scan-web: DAST of a running web app (docs/dast-design.md)."""
