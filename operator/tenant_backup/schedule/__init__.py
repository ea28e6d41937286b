"""The TenantBackupSchedule kind: backups of one tenant or every tenant on a cron, thinned by
a retention policy."""
