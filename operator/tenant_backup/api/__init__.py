"""The TenantBackup API: pydantic models are the single source of the CRD schema."""
