"""Operator settings, read once from the environment (`TENANT_BACKUP_*`)."""

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

ENV_PREFIX = "TENANT_BACKUP_"


class Settings(BaseModel):
    """What the operator needs to know that no TenantBackup says."""

    model_config = ConfigDict(frozen=True)

    image: str = "tenant-backup-operator:0.1.0"
    """Image of the dump Jobs (holds the runner and pg_dump)."""
    image_pull_policy: str = "IfNotPresent"
    job_ttl_seconds: int = Field(default=86400, ge=0)
    """How long finished Jobs (and their pods' logs) are kept."""
    resync_seconds: float = Field(default=15.0, gt=0)
    """How often unfinished TenantBackups are re-derived from their Jobs (safety net)."""
    preflight_timeout_seconds: int = Field(default=5, ge=1)
    """Connect timeout of the operator's own database checks."""
    run_as_user: int = 65532
    """UID (and GID) of the dump container; also its fsGroup for volume writes."""
    cpu_request: str = "250m"
    memory_request: str = "128Mi"
    memory_limit: str = "512Mi"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        """Settings from `TENANT_BACKUP_<FIELD>` variables; unset ones keep defaults."""
        values = {
            name: environ[ENV_PREFIX + name.upper()]
            for name in cls.model_fields
            if ENV_PREFIX + name.upper() in environ
        }
        return cls.model_validate(values)
