"""The pure decision: status and the next action from a backup, its Jobs and the clock."""

from datetime import timedelta

import pytest

from tenant_backup.api.attempts import Phase
from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.reasons import Reason
from tenant_backup.api.result import DumpResult
from tenant_backup.backup.plan import Plan, Preflight, PreflightFailure, reconcile
from tenant_backup.core.followups import to_settle
from tenant_backup.core.naming import LABEL_SETTLED
from tenant_backup.core.observe import JobFinish, ObservedJob, Termination
from tests.support.factories import T0, UID, backup, success_message

OK = Preflight()


def job(attempt: int, finish: JobFinish | None = None, owner: str = UID) -> ObservedJob:
    return ObservedJob(f"nightly-{attempt}", attempt, owner, T0, finish)


def finished(message: str | None, *, ok: bool = True, reason: str | None = None) -> JobFinish:
    code = 0 if ok else 1
    return JobFinish(ok, reason, None, T0, Termination(code, None, message, None))


def failure(reason: Reason, retryable: bool) -> JobFinish:
    message = DumpResult(ok=False, reason=reason, retryable=retryable, message="boom")
    return finished(message.to_message(), ok=False)


def advance(current: TenantBackup, plan: Plan) -> TenantBackup:
    return current.model_copy(update={"status": plan.status})


def test_first_pass_creates_attempt_one() -> None:
    plan = reconcile(backup(), [], T0, OK)
    assert plan.create_attempt == 1
    assert plan.status.phase is Phase.RUNNING
    assert plan.status.attempts == 1
    assert plan.status.job_name == "nightly-1"
    assert plan.status.max_attempts == 3
    assert [e.reason for e in plan.events] == [Reason.JOB_CREATED]


@pytest.mark.parametrize("failure_kind", list(PreflightFailure))
def test_preflight_failure_is_permanent_and_creates_nothing(
    failure_kind: PreflightFailure,
) -> None:
    plan = reconcile(backup(), [], T0, Preflight(failure_kind, "nope"))
    assert plan.create_attempt is None
    assert plan.status.phase is Phase.FAILED
    assert plan.status.reason == failure_kind.value
    assert plan.status.attempts == 0
    failed = {c.type.value: c.status for c in plan.status.conditions}
    assert failed == {
        "Complete": "False",
        "Failed": "True",
        "Ready": "False",
        "Reconciling": "False",
        "Stalled": "True",
    }


def test_success_records_artifact_and_conditions() -> None:
    started = advance(backup(), reconcile(backup(), [], T0, OK))
    plan = reconcile(started, [job(1, finished(success_message()))], T0 + timedelta(seconds=5))
    status = plan.status
    assert status.phase is Phase.SUCCEEDED
    assert status.attempts == 1
    assert status.artifact is not None
    assert status.artifact.url == "pvc://backups/x.pgdump.zst"
    assert status.artifact.size == "4.0KiB"
    assert status.source is not None
    assert status.source.server_version == "15.18"
    assert status.completion_time == T0 + timedelta(seconds=5)
    assert {c.type.value: c.status for c in status.conditions} == {
        "Complete": "True",
        "Failed": "False",
        "Ready": "True",
        "Reconciling": "False",
        "Stalled": "False",
    }
    assert plan.create_attempt is None


def test_completed_job_without_valid_result_is_not_success() -> None:
    started = advance(backup(), reconcile(backup(), [], T0, OK))
    plan = reconcile(started, [job(1, finished("not json"))], T0)
    assert plan.status.phase is not Phase.SUCCEEDED
    assert plan.status.attempt_history[-1].reason == Reason.RESULT_MISSING


def test_retryable_failures_back_off_then_retry_until_max() -> None:
    current = advance(backup(), reconcile(backup(), [], T0, OK))
    jobs = [job(1, failure(Reason.LOCK_TIMEOUT, True))]
    waiting = reconcile(current, jobs, T0 + timedelta(seconds=1))
    assert waiting.create_attempt is None
    assert waiting.status.reason == Reason.RETRY_SCHEDULED
    assert waiting.status.next_attempt_time == T0 + timedelta(seconds=30)
    current = advance(current, waiting)
    retry = reconcile(current, jobs, T0 + timedelta(seconds=30))
    assert retry.create_attempt == 2
    assert retry.status.next_attempt_time is None
    current = advance(current, retry)
    jobs.append(job(2, failure(Reason.LOCK_TIMEOUT, True)))
    second_wait = reconcile(current, jobs, T0 + timedelta(seconds=31))
    assert second_wait.status.next_attempt_time == T0 + timedelta(seconds=60)  # doubled
    current = advance(current, reconcile(current, jobs, T0 + timedelta(seconds=61)))
    jobs.append(job(3, failure(Reason.LOCK_TIMEOUT, True)))
    final = reconcile(current, jobs, T0 + timedelta(seconds=62))
    assert final.status.phase is Phase.FAILED
    assert final.status.reason == Reason.LOCK_TIMEOUT
    assert final.status.attempts == 3
    assert [r.attempt for r in final.status.attempt_history] == [1, 2, 3]
    assert "gave up after 3 of 3 attempts" in (final.status.message or "")


def test_permanent_failure_stops_at_once() -> None:
    current = advance(backup(), reconcile(backup(), [], T0, OK))
    plan = reconcile(current, [job(1, failure(Reason.PERMISSION_DENIED, False))], T0)
    assert plan.status.phase is Phase.FAILED
    assert plan.status.attempts == 1
    assert plan.status.reason == Reason.PERMISSION_DENIED


def test_deadline_wins_over_the_runners_interrupted_result() -> None:
    current = advance(backup(), reconcile(backup(), [], T0, OK))
    interrupted = DumpResult(ok=False, reason=Reason.DUMP_INTERRUPTED, retryable=True)
    finish = JobFinish(
        False,
        "DeadlineExceeded",
        "past deadline",
        T0,
        Termination(143, "Error", interrupted.to_message(), None),
    )
    plan = reconcile(current, [job(1, finish)], T0)
    assert plan.status.phase is Phase.FAILED
    assert plan.status.reason == Reason.DEADLINE_EXCEEDED


@pytest.mark.parametrize(
    ("termination", "reason"),
    [
        (Termination(137, "OOMKilled", None, None), Reason.OOM_KILLED),
        (Termination(None, None, None, "Evicted"), Reason.EVICTED),
        (Termination(2, "Error", "Traceback...", None), Reason.POD_FAILED),
    ],
)
def test_pod_failures_without_result_are_retryable(
    termination: Termination, reason: Reason
) -> None:
    current = advance(backup(), reconcile(backup(), [], T0, OK))
    plan = reconcile(
        current, [job(1, JobFinish(False, "BackoffLimitExceeded", None, T0, termination))], T0
    )
    record = plan.status.attempt_history[-1]
    assert record.reason == reason
    assert record.retryable
    assert plan.status.phase is Phase.RUNNING


def test_job_created_but_not_recorded_is_adopted_not_duplicated() -> None:
    """The operator died after creating Job 1 and before writing status."""
    plan = reconcile(backup(), [job(1)], T0)
    assert plan.create_attempt is None
    assert plan.status.attempts == 1
    assert plan.status.phase is Phase.RUNNING
    assert [e.reason for e in plan.events] == [Reason.JOB_CREATED]  # announced once, now


@pytest.mark.parametrize("reason", [Reason.QUEUED, Reason.RETRY_SCHEDULED])
def test_an_adopted_job_ends_the_wait_the_status_still_shows(reason: Reason) -> None:
    """Admitted from the queue (or due for its retry), Job created, status write lost."""
    waiting = backup().model_copy(
        update={"status": backup().status.model_copy(update={"reason": reason, "message": "w"})}
    )
    plan = reconcile(waiting, [job(1)], T0)
    assert plan.create_attempt is None
    assert plan.status.reason == Reason.JOB_CREATED
    assert plan.status.message == "attempt 1 of 3 running"


def test_vanished_job_counts_as_failed_attempt() -> None:
    current = advance(backup(), reconcile(backup(), [], T0, OK))
    plan = reconcile(current, [], T0 + timedelta(seconds=3))
    record = plan.status.attempt_history[-1]
    assert record.reason == Reason.JOB_DELETED
    assert record.retryable
    assert plan.status.reason == Reason.RETRY_SCHEDULED


def test_jobs_of_a_deleted_namesake_are_ignored() -> None:
    plan = reconcile(backup(), [job(1, owner="someone-else")], T0, OK)
    assert plan.create_attempt == 1


def test_terminal_status_is_left_alone() -> None:
    current = advance(
        backup(), reconcile(backup(), [], T0, Preflight(PreflightFailure.SECRET_MISSING))
    )
    again = reconcile(current, [job(1)], T0 + timedelta(hours=1))
    assert again.status == current.status
    assert again.create_attempt is None
    assert again.events == []


def test_transition_time_kept_while_condition_status_unchanged() -> None:
    current = advance(backup(), reconcile(backup(), [], T0, OK))
    later = reconcile(current, [job(1)], T0 + timedelta(minutes=5))
    assert [c.last_transition_time for c in later.status.conditions] == [T0] * 5
    done = reconcile(
        advance(current, later), [job(1, finished(success_message()))], T0 + timedelta(minutes=9)
    )
    times = {c.type.value: c.last_transition_time for c in done.status.conditions}
    assert times == {
        "Complete": T0 + timedelta(minutes=9),
        "Failed": T0,
        "Ready": T0 + timedelta(minutes=9),
        "Reconciling": T0 + timedelta(minutes=9),
        "Stalled": T0,
    }


def test_first_attempt_needs_a_preflight_verdict() -> None:
    with pytest.raises(ValueError, match="preflight"):
        reconcile(backup(), [], T0)


def test_only_a_finished_backup_not_being_deleted_is_to_be_labelled_settled_once() -> None:
    started = advance(backup(), reconcile(backup(), [], T0, OK))
    done = advance(
        started, reconcile(started, [job(1, finished(success_message()))], T0 + timedelta(1))
    )
    assert not to_settle(backup())
    assert not to_settle(started)
    assert to_settle(done)
    labelled = done.model_copy(
        update={"metadata": done.metadata.model_copy(update={"labels": {LABEL_SETTLED: "true"}})}
    )
    assert not to_settle(labelled)
    deleting = done.model_copy(
        update={"metadata": done.metadata.model_copy(update={"deletion_timestamp": T0})}
    )
    assert not to_settle(deleting)
