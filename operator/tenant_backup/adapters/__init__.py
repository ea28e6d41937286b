"""The I/O edges: the Kubernetes API, PostgreSQL, SMTP and webhooks."""
