"""Operator settings, read once from the environment (`TENANT_BACKUP_*`)."""

import ipaddress
import json
import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from tenant_backup.api.pod_config import JobPodDefaults

ENV_PREFIX = "TENANT_BACKUP_"
SQL_NAME = r"^[a-z_][a-z0-9_]{0,62}$"
DNS_NAME = r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"
DEFAULT_DENIED_CIDRS = (
    "127.0.0.0/8",  # loopback
    "::1/128",
    "169.254.0.0/16",  # link-local, with the cloud metadata address 169.254.169.254
    "fe80::/10",
    "fd00:ec2::254/128",  # the IPv6 metadata address of one cloud (not link-local)
    "100.100.100.200/32",  # the metadata address of another (not link-local)
    "0.0.0.0/8",  # unspecified ("this host")
    "::/128",
)


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
    require_tenant_allowlist: bool = True
    """A backup runs only if its Namespace's `tenantbackup.dev/allowed-tenants` annotation
    lists its tenant (or `*`); False lets every namespace back up any tenant."""
    max_running_jobs: int = Field(default=10, ge=1)
    """Dump Jobs running at once, in total; more backups wait with reason Queued."""
    max_running_jobs_per_server: int = Field(default=2, ge=1)
    """Dump Jobs running at once against one database server."""
    run_as_user: int = 65532
    """UID (and GID) of the dump container; also its fsGroup for volume writes."""
    cpu_request: str = "250m"
    memory_request: str = "128Mi"
    memory_limit: str = "512Mi"
    job_pod: JobPodDefaults = JobPodDefaults()
    """Service account, pull Secrets, annotations, labels, placement, priority class and
    resources of every Job's pods (JSON in the environment, camelCase as in a
    TenantBackupPodConfig's spec); a namespace's TenantBackupPodConfig applies over it."""
    history_dsn: SecretStr | None = None
    """libpq connection string of the history database (from a Secret); unset: no history."""
    history_schema: str = Field(default="tenant_backup_history", pattern=SQL_NAME)
    """Schema of the history tables, created by the operator; not a tenant's."""
    history_table: str = Field(default="backups", pattern=SQL_NAME)
    """One row per TenantBackup: its outcome."""
    history_attempts_table: str = Field(default="backup_attempts", pattern=SQL_NAME)
    """One row per attempt."""
    history_restores_table: str = Field(default="restores", pattern=SQL_NAME)
    """One row per TenantRestore: its outcome."""
    history_timeout_seconds: int = Field(default=5, ge=1)
    """Connect timeout of history writes; a write that fails is retried on the next resync."""
    notify_attempts: int = Field(default=3, ge=1, le=10)
    """Tries of each notification before it is given up."""
    notify_backoff_seconds: float = Field(default=2.0, ge=0)
    """Wait after the first failed try; doubles after each further one."""
    smtp_timeout_seconds: int = Field(default=30, ge=1)
    """Timeout of each SMTP operation."""

    leader_election: bool = True
    """Act only while holding the Lease `lease_name` (so replicas never act at once)."""
    lease_namespace: str = ""
    """Namespace of the Lease, the operator's own (the Deployment passes it); required with
    leader election."""
    lease_name: str = Field(default="tenant-backup-operator", pattern=DNS_NAME)
    lease_duration_seconds: int = Field(default=15, ge=1)
    """How long a Lease not renewed stays its holder's, as the other replicas see it; more
    than the renew deadline."""
    renew_deadline_seconds: float = Field(default=10.0, gt=0)
    """How long after its last successful renewal began the leader may still act; more than
    1.2 retry periods."""
    retry_period_seconds: float = Field(default=2.0, gt=0)
    """How often the leader renews and a standby tries to take over."""

    denied_cidrs: tuple[str, ...] = DEFAULT_DENIED_CIDRS
    """Addresses the operator never connects to for a user-chosen destination (webhook,
    SMTP relay, preflight database); comma-separated in the environment. Setting it replaces
    the default list."""
    allowed_cidrs: tuple[str, ...] = ()
    """With `allowed_hosts`, an allow-list: when either is set, the operator connects to a
    user-chosen destination only if it is listed (and not denied)."""
    allowed_hosts: tuple[str, ...] = ()
    """Host names of the allow-list (`*.example.com` for any subdomain)."""

    @field_validator("denied_cidrs", "allowed_cidrs", "allowed_hosts", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        """`a,b` from the environment as a list; blanks dropped."""
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        return value

    @field_validator("job_pod", mode="before")
    @classmethod
    def _json(cls, value: object) -> object:
        """The environment's JSON object as a dict."""
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("denied_cidrs", "allowed_cidrs")
    @classmethod
    def _ranges(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            ipaddress.ip_network(cidr, strict=False)  # ValueError: not an address range
        return value

    @property
    def history_enabled(self) -> bool:
        """Whether backups and restores are recorded in a history database."""
        return self.history_dsn is not None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "Settings":
        """Settings from `TENANT_BACKUP_<FIELD>` variables; unset ones keep defaults."""
        values = {
            name: environ[ENV_PREFIX + name.upper()]
            for name in cls.model_fields
            if ENV_PREFIX + name.upper() in environ
        }
        return cls.model_validate(values)
