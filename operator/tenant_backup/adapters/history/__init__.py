"""Backup history in PostgreSQL: one row per TenantBackup and one per attempt."""
