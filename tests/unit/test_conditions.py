"""The conditions of each phase, with kstatus's `Reconciling` and `Stalled` beside `Ready`, and
transition times kept while a status does not change."""

from datetime import UTC, datetime, timedelta

import pytest

from tenant_backup.api.attempts import Condition, ConditionType, Phase
from tenant_backup.core.conditions import conditions_for

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def statuses(conditions: list[Condition]) -> dict[str, str]:
    return {c.type.value: c.status for c in conditions}


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        (Phase.PENDING, ("False", "False", "False", "True", "False")),
        (Phase.RUNNING, ("False", "False", "False", "True", "False")),
        (Phase.SUCCEEDED, ("True", "False", "True", "False", "False")),
        (Phase.FAILED, ("False", "True", "False", "False", "True")),
    ],
)
def test_each_phase_sets_the_job_like_and_the_kstatus_conditions(
    phase: Phase, expected: tuple[str, ...]
) -> None:
    conditions = conditions_for(phase, "Why", "because", [], T0, 3)
    names = ("Complete", "Failed", "Ready", "Reconciling", "Stalled")
    assert statuses(conditions) == dict(zip(names, expected, strict=True))
    assert {(c.reason, c.message, c.observed_generation) for c in conditions} == {
        ("Why", "because", 3)
    }


def test_a_failure_stalls_with_its_reason_and_message() -> None:
    conditions = conditions_for(Phase.FAILED, "TenantNotAllowed", "not in the list", [], T0, 1)
    stalled = next(c for c in conditions if c.type is ConditionType.STALLED)
    assert (stalled.status, stalled.reason, stalled.message) == (
        "True",
        "TenantNotAllowed",
        "not in the list",
    )


def test_finishing_moves_reconciling_and_keeps_unchanged_transition_times() -> None:
    running = conditions_for(Phase.RUNNING, "JobCreated", "", [], T0, 1)
    later = T0 + timedelta(minutes=5)
    done = {c.type: c for c in conditions_for(Phase.SUCCEEDED, "Succeeded", "", running, later, 1)}
    assert done[ConditionType.RECONCILING].status == "False"
    assert done[ConditionType.RECONCILING].last_transition_time == later
    assert done[ConditionType.STALLED].last_transition_time == T0


def test_conditions_of_other_types_are_kept() -> None:
    verified = Condition(
        type=ConditionType.VERIFIED, status="True", reason="Toc", last_transition_time=T0
    )
    conditions = conditions_for(Phase.SUCCEEDED, "Succeeded", "", [verified], T0, 1)
    assert verified in conditions
