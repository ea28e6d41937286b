"""The TenantRestore kind: restore one tenant schema from a backup's artifact."""
