"""The local development environment: a control plane (KWOK or one real node), the images,
PostgreSQL with the test tenants, MinIO, a Telegram Bot API stand-in, and `make demo`.
The tests use it too; it never uses the tests. See devenv/README.md."""
