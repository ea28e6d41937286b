"""The TenantBackup kind: its planner, driver, follow-ups and Kopf registrations."""
