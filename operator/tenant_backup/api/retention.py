"""The retention policy of a schedule's backups: which stay, per tenant, as restic forget."""

from typing import Annotated, Self

from pydantic import ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from tenant_backup.api.base import ApiModel, cel, validations
from tenant_backup.api.durations import DURATION_MIN_LENGTH, DURATION_PATTERN, Duration

KEEP_RULES = (
    "keep_last",
    "keep_hourly",
    "keep_daily",
    "keep_weekly",
    "keep_monthly",
    "keep_yearly",
    "keep_within",
)
EMPTY_POLICY_MESSAGE = (
    "retention needs at least one keep rule (keepLast, keepHourly, keepDaily, keepWeekly, "
    "keepMonthly, keepYearly or keepWithin): an empty policy would delete every backup but "
    "the newest"
)

Count = Annotated[int, Field(ge=1)]


class RetentionPolicy(ApiModel):
    """Which of a tenant's scheduled backups stay; the others are deleted with their artifacts.
    As restic forget: only Succeeded backups count, a backup kept by any rule stays, periods
    are calendar periods in the schedule's time zone (weeks Monday to Sunday) that contain a
    backup; when fewer periods than a rule's N have one, the oldest successful backup stays
    too. The newest Succeeded backup and the newest one not flagged as a size anomaly
    always stay, as do backups labelled `tenantbackup.dev/retain=true` (not counted by the
    rules); nothing is deleted while a backup of the tenant is unfinished."""

    model_config = ConfigDict(
        json_schema_extra=validations(
            cel(
                " || ".join(f"has(self.{to_camel(rule)})" for rule in KEEP_RULES),
                EMPTY_POLICY_MESSAGE,
            )
        )
    )

    keep_last: Count | None = None
    """Keep the newest N successful backups."""
    keep_hourly: Count | None = None
    """Keep the newest successful backup of each of the last N hours that have one."""
    keep_daily: Count | None = None
    """Keep the newest successful backup of each of the last N days that have one."""
    keep_weekly: Count | None = None
    """Keep the newest successful backup of each of the last N weeks (Monday to Sunday) that
    have one."""
    keep_monthly: Count | None = None
    """Keep the newest successful backup of each of the last N months that have one."""
    keep_yearly: Count | None = None
    """Keep the newest successful backup of each of the last N years that have one."""
    keep_within: (
        Annotated[
            str,
            Field(min_length=DURATION_MIN_LENGTH, max_length=64, pattern=DURATION_PATTERN),
        ]
        | None
    ) = None
    """Keep every successful backup taken within this duration of the newest successful one
    (not of now), e.g. `7d`, `1y6mo`: units y, mo (months), w, d, h, m (minutes), s, in that
    order."""
    failed_history_limit: Annotated[int, Field(ge=0)] = 1
    """Failed backups kept for diagnosis, newest first; never counted by the keep rules."""
    dry_run: bool = False
    """Compute and show what would be deleted, delete nothing."""

    @model_validator(mode="after")
    def _has_a_keep_rule(self) -> Self:
        if all(getattr(self, rule) is None for rule in KEEP_RULES):
            raise ValueError(EMPTY_POLICY_MESSAGE)
        return self

    @property
    def within(self) -> Duration | None:
        """`keepWithin` parsed."""
        return None if self.keep_within is None else Duration.parse(self.keep_within)
