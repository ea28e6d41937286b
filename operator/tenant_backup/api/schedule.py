"""TenantBackupSchedule: TenantBackups of one tenant or of every tenant on a cron, thinned by a
retention policy; its spec, its status and the object."""

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from tenant_backup.api.attempts import Condition, Phase
from tenant_backup.api.backup import BackupTemplate
from tenant_backup.api.base import ApiModel, cel, validations
from tenant_backup.api.contract import MAX_RESTORE_CHECKS, SLUG_MAX_LENGTH
from tenant_backup.api.cron import SCHEDULE_PATTERN, TIME_ZONE_PATTERN
from tenant_backup.api.durations import DURATION_MIN_LENGTH, FIXED_DURATION_PATTERN
from tenant_backup.api.meta import ObjectMeta
from tenant_backup.api.references import DatabaseSource
from tenant_backup.api.restore import Check
from tenant_backup.api.retention import RetentionPolicy

EVERY_TENANT = "*"
SCHEDULE_NAME_MAX_LENGTH = 40
"""Room in 63 characters for a run's name (`<schedule>-<tenant>-<slot>`, hashed when long)."""
MAX_TENANTS = 2000
DESCRIPTION = (
    "A TenantBackupSchedule creates a TenantBackup of each of its tenants (or of every tenant "
    "schema of the database) on a cron schedule, and keeps what its retention policy says."
)
NAME_RULE = {
    "rule": f"self.metadata.name.size() <= {SCHEDULE_NAME_MAX_LENGTH}",
    "message": f"metadata.name must be at most {SCHEDULE_NAME_MAX_LENGTH} characters: it "
    "names the schedule's TenantBackups",
}
PRINTER_COLUMNS: list[dict[str, Any]] = [
    {"name": "Schedule", "type": "string", "jsonPath": ".spec.schedule"},
    {"name": "Tenants", "type": "integer", "jsonPath": ".status.tenantCount"},
    {"name": "Suspended", "type": "boolean", "jsonPath": ".spec.suspend"},
    {"name": "Last Success", "type": "date", "jsonPath": ".status.lastSuccessfulTime"},
    {"name": "Next Run", "type": "string", "jsonPath": ".status.nextScheduleTime"},
    {
        "name": "Ready",
        "type": "string",
        "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
    },
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]
TenantSlug = Annotated[str, Field(min_length=1, max_length=SLUG_MAX_LENGTH)]
PERIOD_PATTERN = "^" + "".join(f"([1-9][0-9]{{0,5}}{unit})?" for unit in "wdhm") + "$"
"""Weeks, days, hours, minutes: a fixed length of time."""
DATABASE_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_$-]*$"


class ConcurrencyPolicy(StrEnum):
    """What a slot does for a tenant whose previous run has not finished."""

    FORBID = "Forbid"
    ALLOW = "Allow"


class Anomaly(ApiModel):
    """How the schedule flags a run whose artifact shrank (`SizeAnomaly`)."""

    min_size_ratio: Annotated[float, Field(ge=0.01, le=1)] = 0.5
    """Flag a Succeeded run whose artifact is smaller than this share of the tenant's previous
    successful one."""


class Drill(ApiModel):
    """Restore drills: a `Verify` TenantRestore of each tenant's newest Succeeded run, every
    `every` Succeeded runs or every `period`. The run drilled gets condition
    `RestoreVerified`."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                "has(self.every) != has(self.period)",
                "drill: exactly one of every (runs) and period must be set",
            ),
            cel(
                "!has(self.checks) "
                "|| self.checks.all(c, self.checks.exists_one(d, d.name == c.name))",
                "the checks' names must differ",
            ),
        )
    )

    every: Annotated[int, Field(ge=1, le=1000)] | None = None
    """Drill the newest run once this many Succeeded runs of the tenant finished since its last
    drill (1: every run)."""
    period: (
        Annotated[str, Field(min_length=DURATION_MIN_LENGTH, max_length=32, pattern=PERIOD_PATTERN)]
        | None
    ) = None
    """Drill the newest run once this long has passed since the tenant's last drill, e.g.
    `168h` or `1w` (weeks, days, hours, minutes)."""
    database: DatabaseSource | None = None
    """Where the drills restore: a role that may create (and drop) a scratch database, or
    that may create schemas in `verifyDatabase`; default: the template's database."""
    verify_database: (
        Annotated[str, Field(min_length=1, max_length=63, pattern=DATABASE_NAME_PATTERN)] | None
    ) = None
    """An existing database to restore into instead of a scratch one each drill creates and
    drops."""
    checks: Annotated[list[Check], Field(max_length=MAX_RESTORE_CHECKS)] = Field(
        default_factory=list
    )
    """Assertions each drill runs against the restored schema (as a TenantRestore's)."""
    keep: Annotated[int, Field(ge=1, le=50)] = 3
    """Finished drills (TenantRestores) kept per tenant; older ones are deleted."""


class TenantBackupScheduleSpec(ApiModel):
    """When to back up which tenants, how, and what to keep."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                f"!self.tenants.exists(t, t == '{EVERY_TENANT}') || self.tenants.size() == 1",
                f"tenants: '{EVERY_TENANT}' (every tenant) must be alone in the list",
                field_path=".tenants",
            ),
            cel(
                "self.tenants.all(t, t == '*' || t.matches('^[a-z0-9][a-z0-9_]*$'))",
                "tenants: each is a tenant slug (lower-case letters, digits and _, not starting "
                "with _) or '*'",
                field_path=".tenants",
            ),
        )
    )

    schedule: Annotated[str, Field(min_length=1, max_length=100, pattern=SCHEDULE_PATTERN)]
    """Standard 5-field cron (minute hour day-of-month month day-of-week) or `@hourly`,
    `@daily`, `@weekly`, `@monthly`, `@yearly`; in `timeZone`. No seconds field, no `TZ=`."""
    time_zone: Annotated[str, Field(min_length=1, max_length=64, pattern=TIME_ZONE_PATTERN)] = "UTC"
    """IANA time zone of `schedule` and of retention's calendar periods, e.g. `Europe/Berlin`."""
    tenants: Annotated[list[TenantSlug], Field(min_length=1, max_length=MAX_TENANTS)]
    """Tenant slugs, or `["*"]`: every tenant schema of the database that the namespace may
    back up, discovered again at each run."""
    spread_window: (
        Annotated[
            str,
            Field(min_length=DURATION_MIN_LENGTH, max_length=32, pattern=FIXED_DURATION_PATTERN),
        ]
        | None
    ) = None
    """Start each tenant's run a stable offset (a hash of namespace, schedule and tenant) into
    this window after the slot, e.g. `30m`, so hundreds of tenants do not start in the same
    second. Must be shorter than the time between two slots."""
    suspend: bool = False
    """Take no new slots (one-off TenantBackups keep working); slots passed while suspended
    are not caught up."""
    concurrency_policy: ConcurrencyPolicy = ConcurrencyPolicy.FORBID
    """`Forbid`: a tenant whose previous run has not finished skips the slot (counted, with an
    Event); `Allow`: it runs anyway."""
    starting_deadline_seconds: Annotated[int, Field(ge=1)] | None = None
    """After downtime, the newest missed slot still runs if it is at most this late; older
    ones are counted missed. Unset: the newest missed slot runs however late (never more)."""
    template: BackupTemplate
    """Each run's TenantBackup spec, without `tenant`."""
    retention: RetentionPolicy | None = None
    """Which Succeeded runs to keep per tenant; unset: keep every run."""
    anomaly: Anomaly = Field(default_factory=Anomaly)
    drill: Drill | None = None
    """Restore drills of the runs; none unless set."""


class RunRef(ApiModel):
    """One TenantBackup of the schedule."""

    name: str
    time: datetime
    """When it finished (the slot's time while it runs)."""
    phase: Phase | None = None
    artifact: Annotated[str, Field(max_length=2048)] | None = None
    size_bytes: int | None = None
    size_anomaly: bool = False


class TenantState(ApiModel):
    """One tenant's runs under this schedule."""

    tenant: str
    last_run: RunRef | None = None
    last_success: RunRef | None = None
    skipped: int = 0
    """Slots skipped because the previous run had not finished (`Forbid`)."""
    kept: int = 0
    """Succeeded runs kept by retention."""
    pruned: int = 0
    """Runs deleted by retention (their artifacts first)."""
    next_to_go: list[str] = Field(default_factory=list)
    """Runs retention deletes next: now in `dryRun`, else once the next run succeeds."""
    last_drill: RunRef | None = None
    """The tenant's newest drill (a TenantRestore): its name, phase, and when it finished
    (created, while it runs)."""


class Slot(ApiModel):
    """The slot being fanned out over the tenants."""

    time: datetime
    tenants: list[str] = Field(default_factory=list)
    """The tenants the slot backs up."""
    pending: list[str] = Field(default_factory=list)
    """Tenants whose run for this slot is not created yet (waiting for their offset)."""


class Discovery(ApiModel):
    """What `["*"]` found in the database at the last slot."""

    time: datetime
    count: int
    added: list[str] = Field(default_factory=list)
    dropped: list[str] = Field(default_factory=list)
    ignored: list[str] = Field(default_factory=list)
    """Tenant schemas found but not allowed in this namespace."""


class TenantBackupScheduleStatus(ApiModel):
    """Observed state, written only by the operator."""

    model_config = ConfigDict(extra="ignore")

    observed_generation: int | None = None
    last_schedule_time: datetime | None = None
    """The newest slot taken (or passed over): a restart continues after it."""
    next_schedule_time: datetime | None = None
    last_successful_time: datetime | None = None
    """When the newest Succeeded run of any tenant finished."""
    tenant_count: int = 0
    slot: Slot | None = None
    active: list[str] = Field(default_factory=list)
    """Unfinished runs."""
    missed: int = 0
    """Slots never run: passed while the operator was down beyond the newest one, or later
    than `startingDeadlineSeconds`."""
    skipped: int = 0
    """Tenant runs skipped because the previous one had not finished (`Forbid`), or because a
    foreign object holds the run's name."""
    pruned: int = 0
    pruning: list[str] = Field(default_factory=list)
    """Runs retention asked to delete that still exist (their artifacts go first)."""
    discovery: Discovery | None = None
    tenants: list[TenantState] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)


class TenantBackupSchedule(BaseModel):
    """A whole TenantBackupSchedule object."""

    model_config = ConfigDict(frozen=True)

    metadata: ObjectMeta
    spec: TenantBackupScheduleSpec
    status: TenantBackupScheduleStatus = Field(default_factory=TenantBackupScheduleStatus)

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> "TenantBackupSchedule":
        """Parse an object as the API server returns it."""
        return cls.model_validate(
            {
                "metadata": body["metadata"],
                "spec": body["spec"],
                "status": body.get("status") or {},
            }
        )
