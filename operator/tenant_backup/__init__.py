"""tenant-backup-operator: one PostgreSQL schema per tenant, backed up as a watchable object."""
