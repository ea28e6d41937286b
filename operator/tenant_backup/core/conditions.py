"""Pure: the conditions list for a phase, keeping transition times that did not change."""

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from tenant_backup.api.attempts import Condition, ConditionType, Phase

Status = Literal["True", "False", "Unknown"]


def conditions_for(
    phase: Phase,
    reason: str,
    message: str,
    previous: Sequence[Condition],
    now: datetime,
    generation: int,
) -> list[Condition]:
    """`Complete`/`Failed` like a batch Job's, `Ready` summarising both, and kstatus's
    `Reconciling` (True until the phase is final) and `Stalled` (True when Failed); conditions
    of other types are kept as they are."""
    wanted: list[tuple[ConditionType, Status]] = [
        (ConditionType.COMPLETE, "True" if phase is Phase.SUCCEEDED else "False"),
        (ConditionType.FAILED, "True" if phase is Phase.FAILED else "False"),
        (ConditionType.READY, "True" if phase is Phase.SUCCEEDED else "False"),
        (ConditionType.RECONCILING, "False" if phase.terminal else "True"),
        (ConditionType.STALLED, "True" if phase is Phase.FAILED else "False"),
    ]
    before = {condition.type: condition for condition in previous}
    owned = {kind for kind, _ in wanted}
    result = [condition for condition in previous if condition.type not in owned]
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
    return _ordered(result)


def with_condition(
    previous: Sequence[Condition],
    kind: ConditionType,
    status: Status,
    reason: str,
    message: str,
    now: datetime,
    generation: int,
) -> list[Condition]:
    """`previous` with condition `kind` set, its transition time kept if `status` is unchanged."""
    old = next((condition for condition in previous if condition.type is kind), None)
    condition = Condition(
        type=kind,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=now
        if old is None or old.status != status
        else old.last_transition_time,
        observed_generation=generation,
    )
    return _ordered([*(c for c in previous if c.type is not kind), condition])


def _ordered(conditions: list[Condition]) -> list[Condition]:
    """In the order of ConditionType, so equal sets compare equal."""
    order = list(ConditionType)
    return sorted(conditions, key=lambda condition: order.index(condition.type))
