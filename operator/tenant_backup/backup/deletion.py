"""Pure: what to do for a TenantBackup being deleted that still carries our finalizer
(`tenantbackup.dev/artifact`), so that no backup goes while its artifact's fate is unknown.

- Its artifact is to stay (deletionPolicy Retain and no `tenantbackup.dev/delete-artifact:
  "true"` annotation): release the object at once; a running attempt is left to the garbage
  collector (whatever it leaves is retained anyway).
- It is to be deleted, and an attempt's Job still runs: wait for that Job to end (its
  activeDeadlineSeconds bounds the wait), since only its result says whether it wrote an
  artifact; no new attempt starts.
- No artifact (never succeeded, failed, or the attempt that ended wrote none): release.
- Else delete it: one prune Job per attempt on the shared attempt machine, retried with
  backoff and, after maxAttempts or a permanent failure (which a person must fix: AccessDenied,
  say), every maxBackoffSeconds until it succeeds, the status and a Warning Event saying why.
  Deleted, AlreadyGone or Forgotten (pieces the destination keeps, listed in the Event)
  releases the object.
"""

from dataclasses import dataclass, field
from datetime import datetime

from tenant_backup.api.attempts import MAX_ATTEMPT_HISTORY, AttemptOutcome, Phase
from tenant_backup.api.backup import DeletionPolicy, DeletionStatus, TenantBackup
from tenant_backup.api.reasons import DeletionReason, Reason
from tenant_backup.api.result import PruneOutcome, PruneResult
from tenant_backup.backup.plan import runner_of
from tenant_backup.core import attempts, naming
from tenant_backup.core.events import Event
from tenant_backup.core.observe import ObservedJob


@dataclass(frozen=True)
class DeletionPlan:
    """The outcome of one pass over a backup being deleted."""

    status: DeletionStatus | None = None
    """`status.deletion` as it should be (None: as it is)."""
    create_attempt: int | None = None
    """Create the prune Job of this attempt (before writing `status`)."""
    release: bool = False
    """Remove our finalizer: the artifact's fate is known."""
    events: list[Event] = field(default_factory=list)
    """Posted once `status` is written or the finalizer removed."""


def deletes_artifact(backup: TenantBackup) -> bool:
    """Whether deleting the backup deletes its artifact: its policy, or the annotation a
    schedule's retention sets."""
    annotation = backup.metadata.annotations.get(naming.ANNOTATION_DELETE_ARTIFACT)
    return backup.spec.deletion_policy is DeletionPolicy.DELETE or annotation == "true"


def plan_deletion(
    backup: TenantBackup,
    dump_jobs: list[ObservedJob],
    prune_jobs: list[ObservedJob],
    now: datetime,
) -> DeletionPlan:
    """Decide; see the module docstring. `dump_jobs` and `prune_jobs`: the backup's Jobs."""
    if naming.FINALIZER_ARTIFACT not in backup.metadata.finalizers:
        return DeletionPlan()
    old = backup.status.deletion or DeletionStatus()
    pruning = old.attempts > 0 or bool(attempts.own_jobs(backup.metadata.uid, prune_jobs))
    url = old.artifact_url or _delivered_url(backup, dump_jobs, now)
    if not (deletes_artifact(backup) or pruning):
        kept = f"kept {url}: deletionPolicy is {backup.spec.deletion_policy.value}"
        return DeletionPlan(
            release=True,
            events=[Event("Normal", DeletionReason.RETAINED, kept)] if url else [],
        )
    if url is None:
        running = _running_attempt(backup, dump_jobs)
        if running is None:
            return DeletionPlan(release=True)  # no artifact was ever written
        return _wait_for(running, old, now)
    return _prune(backup, old.model_copy(update={"artifact_url": url}), prune_jobs, now)


def _delivered_url(backup: TenantBackup, dump_jobs: list[ObservedJob], now: datetime) -> str | None:
    """The artifact's URL: in status once Succeeded, else from an attempt that succeeded but
    is not recorded yet."""
    status = backup.status
    if status.finished:
        return status.artifact.url if status.phase is Phase.SUCCEEDED and status.artifact else None
    own = attempts.own_jobs(backup.metadata.uid, dump_jobs)
    for judged in attempts.newly_finished(status, own, runner_of(backup), now):
        artifact = judged.result.artifact if judged.result else None
        if judged.record.outcome is AttemptOutcome.SUCCEEDED and artifact is not None:
            return artifact.url
    return None


def _running_attempt(backup: TenantBackup, dump_jobs: list[ObservedJob]) -> ObservedJob | None:
    if backup.status.finished:
        return None
    own = attempts.own_jobs(backup.metadata.uid, dump_jobs).values()
    return next((job for job in own if job.finish is None), None)


def _wait_for(job: ObservedJob, old: DeletionStatus, now: datetime) -> DeletionPlan:
    message = (
        f"attempt {job.attempt} (Job {job.name}) still runs: its artifact, if it writes one, "
        "is deleted once the Job ends"
    )
    status = old.model_copy(
        update={
            "phase": Phase.PENDING,
            "reason": DeletionReason.WAITING_FOR_ATTEMPT,
            "message": message,
            "start_time": old.start_time or now,
        }
    )
    return DeletionPlan(status=status)


_PARSE_RESULT = attempts.result_parser(PruneResult)


def prune_runner(backup: TenantBackup, url: str) -> attempts.Runner[PruneResult]:
    """How the backup's prune Jobs report: success only for the artifact asked for."""
    return attempts.Runner(
        parse=_PARSE_RESULT,
        success_message=lambda result: result.message if result.url == url else None,
        job_name=lambda attempt: naming.prune_job_name(backup.metadata.name, attempt),
    )


def _prune(
    backup: TenantBackup, old: DeletionStatus, prune_jobs: list[ObservedJob], now: datetime
) -> DeletionPlan:
    url = old.artifact_url or ""
    runner = prune_runner(backup, url)
    own = attempts.own_jobs(backup.metadata.uid, prune_jobs)
    judged = attempts.newly_finished(old, own, runner, now)
    history = [*old.attempt_history, *(entry.record for entry in judged)]
    started = max([old.attempts, *own], default=0)
    policy = backup.spec.retry
    step = attempts.next_step(old, history, started, policy, now, None, give_up=False)
    if step.phase is Phase.SUCCEEDED:
        done = [e.result for e in judged if e.record.outcome is AttemptOutcome.SUCCEEDED]
        return DeletionPlan(release=True, events=[fate_event(url, done[-1] if done else None)])
    job = naming.prune_job_name(backup.metadata.name, step.attempts) if step.attempts else None
    last = history[-1] if history else None
    if step.reason == Reason.RETRY_SCHEDULED and last is not None:
        reason = DeletionReason.DELETION_FAILED
        message = f"cannot delete {url}: {last.reason}: {last.message}; {step.message}"
    else:
        reason, message = DeletionReason.PRUNE_JOB_CREATED, f"Job {job} deletes {url}"
        if last is not None:
            message += f" (attempt {last.attempt} failed: {last.reason})"
    status = old.model_copy(
        update={
            "phase": Phase.RUNNING,
            "attempts": step.attempts,
            "max_attempts": policy.max_attempts,
            "job_name": job,
            "reason": reason,
            "message": message,
            "start_time": old.start_time or now,
            "next_attempt_time": step.next_attempt_time,
            "attempt_history": history[-MAX_ATTEMPT_HISTORY:],
        }
    )
    events = [
        Event(
            "Warning",
            DeletionReason.DELETION_FAILED,
            f"attempt {entry.record.attempt} ({entry.record.job_name}) to delete {url}: "
            f"{entry.record.reason}: {entry.record.message}; {step.message}",
        )
        for entry in judged
    ]
    if step.create_attempt is not None:
        created = f"created Job {job} to delete {url} (attempt {step.create_attempt})"
        events.append(Event("Normal", DeletionReason.PRUNE_JOB_CREATED, created))
    return DeletionPlan(status=status, create_attempt=step.create_attempt, events=events)


def fate_event(url: str, result: PruneResult | None) -> Event:
    """The Event that says what became of the artifact."""
    if result is None or result.outcome is not PruneOutcome.FORGOTTEN:
        gone = result.message if result else f"deleted {url}"
        return Event("Normal", DeletionReason.DELETED, gone)
    pieces = "; ".join(f"{piece.what}: {piece.why}" for piece in result.left)
    more = result.left_total - len(result.left)
    return Event(
        "Warning",
        DeletionReason.FORGOTTEN,
        f"deleted what could be of {url}; left, and forgotten ({result.left_total}): {pieces}"
        + (f"; and {more} more" if more > 0 else ""),
    )
