"""Pure: the `SizeAnomaly` condition of a Succeeded backup, from its artifact's size against
the tenant's previous one (`spec.sizeCheck`)."""

from collections.abc import Sequence
from datetime import datetime

from tenant_backup.api.attempts import Condition, ConditionType
from tenant_backup.api.backup import Artifact, SizeCheck
from tenant_backup.api.reasons import SizeReason
from tenant_backup.core.conditions import with_condition
from tenant_backup.core.events import Event
from tenant_backup.core.units import human_size


def shrink_message(check: SizeCheck, artifact: Artifact) -> str | None:
    """Why the artifact is suspiciously small, or None when it is not."""
    previous = check.previous_size_bytes
    if previous == 0 or artifact.size_bytes >= check.min_size_ratio * previous:
        return None
    share = artifact.size_bytes / previous
    return (
        f"the artifact ({human_size(artifact.size_bytes)}) is {share:.0%} of the tenant's "
        f"previous one ({human_size(previous)}, {check.previous_backup}); the threshold is "
        f"{check.min_size_ratio:.0%}: check for deleted or truncated data before relying on it"
    )


def with_size_check(
    previous: Sequence[Condition],
    check: SizeCheck | None,
    artifact: Artifact | None,
    now: datetime,
    generation: int,
) -> tuple[list[Condition], list[Event]]:
    """`SizeAnomaly` once the artifact exists (True with a Warning Event when it shrank past
    the threshold); absent without a size check or an artifact."""
    if check is None or artifact is None:
        return list(previous), []
    message = shrink_message(check, artifact)
    if message is None:
        ratio = artifact.size_bytes / check.previous_size_bytes if check.previous_size_bytes else 1
        text = f"{ratio:.0%} of the previous artifact ({check.previous_backup})"
        conditions = with_condition(
            previous,
            ConditionType.SIZE_ANOMALY,
            "False",
            SizeReason.SIZE_AS_EXPECTED,
            text,
            now,
            generation,
        )
        return conditions, []
    already = flagged(previous)
    conditions = with_condition(
        previous,
        ConditionType.SIZE_ANOMALY,
        "True",
        SizeReason.SIZE_ANOMALY,
        message,
        now,
        generation,
    )
    events = [] if already else [Event("Warning", SizeReason.SIZE_ANOMALY, message)]
    return conditions, events


def flagged(conditions: Sequence[Condition]) -> bool:
    """Whether the backup carries a true `SizeAnomaly`."""
    return any(c.type is ConditionType.SIZE_ANOMALY and c.status == "True" for c in conditions)
