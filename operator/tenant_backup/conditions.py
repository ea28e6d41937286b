"""Pure: the conditions list for a phase, keeping transition times that did not change."""

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from tenant_backup.api.status import Condition, ConditionType, Phase

Status = Literal["True", "False", "Unknown"]


def conditions_for(
    phase: Phase,
    reason: str,
    message: str,
    previous: Sequence[Condition],
    now: datetime,
    generation: int,
) -> list[Condition]:
    """`Complete`/`Failed` like a batch Job's, and `Ready` summarising both."""
    wanted: list[tuple[ConditionType, Status]] = [
        (ConditionType.COMPLETE, "True" if phase is Phase.SUCCEEDED else "False"),
        (ConditionType.FAILED, "True" if phase is Phase.FAILED else "False"),
        (ConditionType.READY, "True" if phase is Phase.SUCCEEDED else "False"),
    ]
    before = {condition.type: condition for condition in previous}
    result = []
    for kind, status in wanted:
        old = before.get(kind)
        changed = old is None or old.status != status
        result.append(
            Condition(
                type=kind,
                status=status,
                reason=reason,
                message=message,
                last_transition_time=now if changed or old is None else old.last_transition_time,
                observed_generation=generation,
            )
        )
    return result
