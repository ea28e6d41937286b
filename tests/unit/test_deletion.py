"""The pure deletion planner over a table of backups being deleted, the prune attempts it
runs (retried without ever giving up), and the prune Job it builds."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from tenant_backup.api.attempts import Phase
from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.reasons import DeletionReason, Reason
from tenant_backup.api.result import PruneLeftover, PruneOutcome, PruneResult
from tenant_backup.backup.deletion import DeletionPlan, plan_deletion
from tenant_backup.backup.prune_job import build_prune_job
from tenant_backup.core import naming
from tenant_backup.core.observe import JobFinish, ObservedJob, Termination
from tenant_backup.settings import Settings
from tests.support.factories import T0, UID, backup_body
from tests.support.lifecycles import failed, job, lifecycle, succeeded

URL = "pvc://backups/x.pgdump.zst"
DELETED_AT = T0 + timedelta(hours=1)
RETRY = {"maxAttempts": 2, "backoffSeconds": 10, "maxBackoffSeconds": 60}


def deleting(
    status: TenantBackup,
    finalizers: tuple[str, ...] = (naming.FINALIZER_ARTIFACT,),
    annotations: dict[str, str] | None = None,
) -> TenantBackup:
    """`status` (a backup at some stage of its life) marked for deletion."""
    metadata = status.metadata.model_copy(
        update={
            "deletion_timestamp": DELETED_AT,
            "finalizers": finalizers,
            "annotations": annotations or {},
        }
    )
    return status.model_copy(update={"metadata": metadata})


def at_stage(stage: str, **spec: Any) -> tuple[TenantBackup, list[ObservedJob]]:
    """A backup and its dump Jobs: `succeeded`, `failed`, `running` (attempt 1's Job runs),
    `unrecorded` (attempt 1 succeeded, its status not written yet), `new` (no attempt)."""
    spec = {"retry": RETRY} | spec
    if stage == "succeeded":
        return lifecycle([], **spec)[-1], [job(1, T0, succeeded(T0))]
    if stage == "failed":
        return lifecycle([], Reason.PERMISSION_DENIED, **spec)[-1], [
            job(1, T0, failed(Reason.PERMISSION_DENIED, T0))
        ]
    running = lifecycle([], **spec)[0]
    if stage == "running":
        return running, [job(1, T0)]
    if stage == "unrecorded":
        return running, [job(1, T0, succeeded(T0 + timedelta(seconds=30)))]
    return TenantBackup.from_body(backup_body(**spec)), []


@dataclass(frozen=True)
class Case:
    stage: str
    policy: str = "Retain"
    annotation: str | None = None
    finalized: bool = True
    release: bool = False
    prune: bool = False
    wait: bool = False
    events: tuple[str, ...] = ()


CASES = {
    "retain, succeeded: released, kept": Case(
        "succeeded", release=True, events=(DeletionReason.RETAINED,)
    ),
    "retain, running: released at once": Case("running", release=True),
    "retain, annotated: pruned": Case(
        "succeeded", annotation="true", prune=True, events=(DeletionReason.PRUNE_JOB_CREATED,)
    ),
    "retain, annotated other than true: kept": Case(
        "succeeded", annotation="yes", release=True, events=(DeletionReason.RETAINED,)
    ),
    "delete, succeeded: pruned": Case(
        "succeeded", "Delete", prune=True, events=(DeletionReason.PRUNE_JOB_CREATED,)
    ),
    "delete, failed: nothing to delete": Case("failed", "Delete", release=True),
    "delete, never started: nothing to delete": Case("new", "Delete", release=True),
    "delete, attempt running: wait for it": Case("running", "Delete", wait=True),
    "delete, success not yet recorded: pruned": Case("unrecorded", "Delete", prune=True,
        events=(DeletionReason.PRUNE_JOB_CREATED,)),
    "no finalizer of ours: nothing to do": Case("succeeded", "Delete", finalized=False),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_what_deleting_a_backup_does(case: Case) -> None:
    current, dumps = at_stage(case.stage, deletionPolicy=case.policy)
    annotations = {naming.ANNOTATION_DELETE_ARTIFACT: case.annotation} if case.annotation else {}
    finalizers = (naming.FINALIZER_ARTIFACT,) if case.finalized else ("kopf/other",)
    plan = plan_deletion(deleting(current, finalizers, annotations), dumps, [], DELETED_AT)
    assert plan.release is case.release
    assert (plan.create_attempt == 1) is case.prune
    assert [event.reason for event in plan.events] == list(case.events)
    if case.prune:
        assert plan.status is not None
        assert plan.status.artifact_url == URL
        assert plan.status.job_name == "nightly-1-prune"
        assert plan.status.phase is Phase.RUNNING
        assert URL in plan.events[0].message
    if case.wait:
        assert plan.status is not None
        assert plan.status.reason == DeletionReason.WAITING_FOR_ATTEMPT
        assert "nightly-1" in (plan.status.message or "")
        assert plan.create_attempt is None
    if not (case.prune or case.wait):
        assert plan.status is None


def prune_job(attempt: int, finish: JobFinish | None, at: datetime) -> ObservedJob:
    return ObservedJob(naming.prune_job_name("nightly", attempt), attempt, UID, at, finish)


def pruned(outcome: PruneOutcome, *left: PruneLeftover, url: str = URL) -> str:
    return PruneResult(
        ok=True, reason=Reason.SUCCEEDED, message=f"{outcome} {url}", url=url, outcome=outcome,
        left=left, left_total=len(left),
    ).to_message()  # fmt: skip


def prune_failure(reason: Reason) -> str:
    retryable = reason is not Reason.PERMISSION_DENIED
    result = PruneResult(ok=False, reason=reason, retryable=retryable, message="AccessDenied")
    return result.to_message()


def ended(message: str, at: datetime, ok: bool = True) -> JobFinish:
    return JobFinish(ok, None, None, at, Termination(0 if ok else 1, None, message, None))


class Deletion:
    """A Delete backup being deleted, moved on pass by pass as the drive would."""

    def __init__(self) -> None:
        current, self.dumps = at_stage("succeeded", deletionPolicy="Delete")
        self.backup = deleting(current)
        self.prunes: list[ObservedJob] = []

    def step(self, now: datetime) -> DeletionPlan:
        plan = plan_deletion(self.backup, self.dumps, self.prunes, now)
        if plan.create_attempt is not None:
            self.prunes.append(prune_job(plan.create_attempt, None, now))
        if plan.status is not None:
            status = self.backup.status.model_copy(update={"deletion": plan.status})
            self.backup = self.backup.model_copy(update={"status": status})
        return plan

    def end(self, attempt: int, message: str, at: datetime, ok: bool = True) -> None:
        self.prunes[attempt - 1] = prune_job(attempt, ended(message, at, ok), at)


def test_a_prune_that_keeps_failing_is_retried_forever_at_the_capped_backoff() -> None:
    deletion = Deletion()
    now = DELETED_AT
    assert deletion.step(now).create_attempt == 1
    waits = []
    for attempt in range(1, 5):
        now += timedelta(seconds=5)
        deletion.end(attempt, prune_failure(Reason.DESTINATION_UNAVAILABLE), now, ok=False)
        plan = deletion.step(now)
        assert not plan.release
        assert plan.status is not None
        assert plan.status.reason == DeletionReason.DELETION_FAILED
        assert "cannot delete " + URL in (plan.status.message or "")
        assert [e.type for e in plan.events] == ["Warning"]
        assert "AccessDenied" in plan.events[0].message
        due = plan.status.next_attempt_time
        assert due is not None
        waits.append((due - now).total_seconds())
        assert deletion.step(due - timedelta(seconds=1)).create_attempt is None
        now = due
        assert deletion.step(now).create_attempt == attempt + 1
    assert waits == [10, 60, 60, 60]  # backoff, then past maxAttempts (2) the max backoff
    assert plan.status is not None
    assert "retrying every 60s until it succeeds" in (plan.status.message or "")
    assert deletion.backup.status.deletion is not None
    assert deletion.backup.status.deletion.phase is Phase.RUNNING
    deletion.end(5, pruned(PruneOutcome.DELETED), now)
    done = deletion.step(now)
    assert done.release
    assert [(e.type, e.reason) for e in done.events] == [("Normal", DeletionReason.DELETED)]


def test_a_permanent_failure_waits_the_max_backoff_at_once() -> None:
    deletion = Deletion()
    deletion.step(DELETED_AT)
    deletion.end(1, prune_failure(Reason.PERMISSION_DENIED), DELETED_AT, ok=False)
    plan = deletion.step(DELETED_AT)
    assert plan.status is not None
    assert plan.status.next_attempt_time == DELETED_AT + timedelta(seconds=60)
    assert "after a permanent failure" in (plan.status.message or "")


def test_forgotten_pieces_are_listed_in_a_warning_and_release_the_backup() -> None:
    deletion = Deletion()
    deletion.step(DELETED_AT)
    left = PruneLeftover(what="message 41 (part 1)", why="message can't be deleted")
    deletion.end(1, pruned(PruneOutcome.FORGOTTEN, left), DELETED_AT)
    plan = deletion.step(DELETED_AT)
    assert plan.release
    [event] = plan.events
    assert (event.type, event.reason) == ("Warning", DeletionReason.FORGOTTEN)
    assert "message 41 (part 1): message can't be deleted" in event.message


def test_a_result_for_another_artifact_is_no_success() -> None:
    deletion = Deletion()
    deletion.step(DELETED_AT)
    deletion.end(1, pruned(PruneOutcome.DELETED, url="pvc://backups/other"), DELETED_AT)
    plan = deletion.step(DELETED_AT)
    assert not plan.release
    assert deletion.backup.status.deletion is not None
    assert deletion.backup.status.deletion.attempt_history[0].reason == Reason.RESULT_MISSING


def test_pruning_once_started_goes_on_whatever_the_annotation_says() -> None:
    current, dumps = at_stage("succeeded")
    annotated = {naming.ANNOTATION_DELETE_ARTIFACT: "true"}
    started = plan_deletion(deleting(current, annotations=annotated), dumps, [], DELETED_AT)
    assert started.status is not None
    status = current.status.model_copy(update={"deletion": started.status})
    backup = deleting(current.model_copy(update={"status": status}))  # annotation removed
    plan = plan_deletion(backup, dumps, [prune_job(1, None, DELETED_AT)], DELETED_AT)
    assert not plan.release


def test_the_prune_job_reaches_the_claim_and_only_the_artifact() -> None:
    current = TenantBackup.from_body(backup_body())
    job = build_prune_job(current, URL, 2, Settings())
    assert job["metadata"]["name"] == "nightly-2-prune"
    labels = job["metadata"]["labels"]
    assert labels[naming.LABEL_COMMAND] == "prune"
    assert labels[naming.LABEL_ATTEMPT] == "2"
    assert job["metadata"]["ownerReferences"][0]["uid"] == UID
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["command"] == [
        "tenant-backup",
        "prune",
        f"--artifact-url={URL}",
        "--pvc-root=/backup",
    ]
    assert {"name": "destination", "mountPath": "/backup"} in container["volumeMounts"]
    assert pod["automountServiceAccountToken"] is False


def test_prune_and_dump_job_names_never_meet() -> None:
    assert naming.prune_job_name("x", 1) == "x-1-prune"
    assert naming.job_name("x-prune", 1) != naming.prune_job_name("x", 1)
    long = "b" * 63
    assert len(naming.prune_job_name(long, 12)) == naming.JOB_NAME_MAX_LENGTH
    assert naming.prune_job_name(long, 12).endswith("-12-prune")
