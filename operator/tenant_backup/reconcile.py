"""Pure: from a TenantBackup, its observed Jobs and the clock, the status it should have and
the one action to take. Every trigger (create, resume, Job event, timer) runs this, so the
status is always re-derived from what exists and a restart at any moment loses nothing."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import TypeAdapter, ValidationError

from tenant_backup.api.reasons import Reason, is_retryable
from tenant_backup.api.resource import TenantBackup
from tenant_backup.api.result import DumpResult
from tenant_backup.api.status import (
    MAX_ATTEMPT_HISTORY,
    Artifact,
    AttemptOutcome,
    AttemptRecord,
    Phase,
    Source,
    TenantBackupStatus,
)
from tenant_backup.conditions import conditions_for, with_verified
from tenant_backup.naming import job_name
from tenant_backup.observe import JobFinish, ObservedJob
from tenant_backup.units import human_size

_RESULT = TypeAdapter(DumpResult)


class PreflightFailure(StrEnum):
    """What the operator's own checks found before the first attempt."""

    SECRET_MISSING = Reason.SECRET_MISSING
    TENANT_NOT_FOUND = Reason.TENANT_NOT_FOUND
    TENANT_NOT_ALLOWED = Reason.TENANT_NOT_ALLOWED
    AUTH_FAILED = Reason.AUTH_FAILED


@dataclass(frozen=True)
class Preflight:
    """The checks' verdict: None `failure` means go ahead (also when the database could not
    be reached: the Job's own attempts then decide, with retries)."""

    failure: PreflightFailure | None = None
    message: str = ""
    server: str | None = None
    """`host:port` from the Secret, when it could be read."""


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to post on the TenantBackup."""

    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class Plan:
    """The outcome of one reconciliation."""

    status: TenantBackupStatus
    create_attempt: int | None = None
    """Create the Job for this attempt (before writing `status`)."""
    requeue_after: float | None = None
    events: list[Event] = field(default_factory=list)


def needs_preflight(backup: TenantBackup, jobs: list[ObservedJob]) -> bool:
    """Whether no attempt has started yet, so the operator's checks must run first."""
    return not backup.status.phase or (
        backup.status.attempts == 0 and not _own(backup, jobs) and not backup.status.phase.terminal
    )


def still_queued(backup: TenantBackup, jobs: list[ObservedJob]) -> bool:
    """Whether the backup waits for a slot and no Job of its next attempt exists yet."""
    return backup.status.reason == Reason.QUEUED and all(
        attempt <= backup.status.attempts for attempt in _own(backup, jobs)
    )


def backoff(backup: TenantBackup, failed_attempt: int) -> timedelta:
    """Wait after failed attempt n: backoffSeconds * 2^(n-1), capped."""
    policy = backup.spec.retry
    seconds = min(policy.backoff_seconds * 2 ** (failed_attempt - 1), policy.max_backoff_seconds)
    return timedelta(seconds=seconds)


def reconcile(
    backup: TenantBackup,
    jobs: list[ObservedJob],
    now: datetime,
    preflight: Preflight | None = None,
) -> Plan:
    """Decide the status and the next action; see the module docstring."""
    old = backup.status
    if old.phase is not None and old.phase.terminal:
        return Plan(status=old)
    own = _own(backup, jobs)
    history, artifact, source = _record_finished(backup, own, now)
    current = max([old.attempts, *own], default=0)
    max_attempts = backup.spec.retry.max_attempts
    create: int | None = None
    requeue: float | None = None
    next_attempt_time: datetime | None = None
    last = history[-1] if history else None
    phase: Phase
    reason: str
    message: str
    if last is not None and last.outcome is AttemptOutcome.SUCCEEDED:
        phase, reason, message = Phase.SUCCEEDED, Reason.SUCCEEDED, last.message
    elif last is not None and last.attempt == current:
        if not last.retryable or current >= max_attempts:
            phase, reason = Phase.FAILED, last.reason
            message = _failure_message(last, max_attempts)
        else:
            due = last.completion_time + backoff(backup, current)
            if now >= due:
                current = create = current + 1
                phase, reason = Phase.RUNNING, Reason.JOB_CREATED
                message = f"attempt {current} of {max_attempts} started after {last.reason}"
            else:
                phase, reason = Phase.RUNNING, Reason.RETRY_SCHEDULED
                next_attempt_time = due
                requeue = (due - now).total_seconds()
                message = (
                    f"attempt {current} of {max_attempts} failed ({last.reason}); "
                    f"next attempt at {due.isoformat()}"
                )
    elif current == 0:
        if preflight is None:
            raise ValueError("the first attempt needs a preflight verdict")
        if preflight.failure is not None:
            phase, reason, message = Phase.FAILED, preflight.failure.value, preflight.message
        else:
            current = create = 1
            phase, reason = Phase.RUNNING, Reason.JOB_CREATED
            message = f"attempt 1 of {max_attempts} started"
    elif old.reason == Reason.JOB_CREATED and old.attempts == current:
        phase, reason = Phase.RUNNING, Reason.JOB_CREATED
        message = old.message or f"attempt {current} of {max_attempts} running"
    else:
        # Its Job exists but the status saying so was never written (a write conflict, or a
        # restart): whatever the status said before (Queued, a retry's wait) is over.
        phase, reason = Phase.RUNNING, Reason.JOB_CREATED
        message = f"attempt {current} of {max_attempts} running"

    status = TenantBackupStatus(
        phase=phase,
        attempts=current,
        max_attempts=max_attempts,
        job_name=job_name(backup.metadata.name, current) if current else None,
        reason=reason,
        message=message,
        start_time=old.start_time or now,
        completion_time=(old.completion_time or now) if phase.terminal else None,
        next_attempt_time=next_attempt_time,
        observed_generation=backup.metadata.generation,
        artifact=artifact,
        source=source,
        database_server=(preflight.server if preflight else None) or old.database_server,
        attempt_history=history[-MAX_ATTEMPT_HISTORY:],
        conditions=with_verified(
            conditions_for(phase, reason, message, old.conditions, now, backup.metadata.generation),
            artifact.verification if artifact else None,
            phase is Phase.FAILED and reason == Reason.VERIFICATION_FAILED,
            now,
            backup.metadata.generation,
        ),
        history=old.history,
        notifications=old.notifications,
    )
    return Plan(
        status=status,
        create_attempt=create,
        requeue_after=requeue,
        events=_events(old, status),
    )


def hold(plan: Plan, backup: TenantBackup, why: str, now: datetime) -> Plan:
    """The plan when its Job may not start yet: no Job, reason Queued (Pending before the
    first attempt), and one Event when the backup starts waiting."""
    old, new = backup.status, plan.status
    phase = Phase.PENDING if old.attempts == 0 else Phase.RUNNING
    message = f"queued: {why}"
    generation = backup.metadata.generation
    status = new.model_copy(
        update={
            "phase": phase,
            "reason": Reason.QUEUED,
            "message": message,
            "attempts": old.attempts,
            "job_name": old.job_name,
            "conditions": conditions_for(
                phase, Reason.QUEUED, message, new.conditions, now, generation
            ),
        }
    )
    events = [event for event in plan.events if event.reason != Reason.JOB_CREATED]
    if old.reason != Reason.QUEUED:
        events.append(Event("Normal", Reason.QUEUED, message))
    return Plan(status=status, events=events)


def _own(backup: TenantBackup, jobs: list[ObservedJob]) -> dict[int, ObservedJob]:
    return {job.attempt: job for job in jobs if job.owner_uid == backup.metadata.uid}


def _record_finished(
    backup: TenantBackup, own: dict[int, ObservedJob], now: datetime
) -> tuple[list[AttemptRecord], Artifact | None, Source | None]:
    """Attempt history with every newly finished (or vanished) attempt appended."""
    old = backup.status
    history = list(old.attempt_history)
    artifact, source = old.artifact, old.source
    recorded = {record.attempt for record in history}
    last_known = max([old.attempts, *own], default=0)
    for attempt in range(1, last_known + 1):
        if attempt in recorded or (history and attempt < history[-1].attempt):
            continue
        job = own.get(attempt)
        name = job_name(backup.metadata.name, attempt)
        if job is None:
            if attempt > old.attempts:
                continue
            history.append(
                AttemptRecord(
                    attempt=attempt,
                    job_name=name,
                    outcome=AttemptOutcome.FAILED,
                    reason=Reason.JOB_DELETED,
                    message=f"Job {name} was deleted before its result was recorded",
                    retryable=True,
                    completion_time=now,
                )
            )
            continue
        if job.finish is None:
            continue
        record, result = judge(job, job.finish)
        history.append(record)
        if record.outcome is AttemptOutcome.SUCCEEDED and result and result.artifact:
            found = result.artifact
            artifact = Artifact(
                url=found.url,
                size_bytes=found.size_bytes,
                size=human_size(found.size_bytes),
                sha256=found.sha256,
                format=found.format,
                compression=found.compression,
                verification=found.verification,
                download_url=found.download_url,
                download_url_expires_at=found.download_url_expires_at,
            )
        if result is not None and (result.server_version or result.pg_dump_version):
            source = Source(
                server_version=result.server_version, pg_dump_version=result.pg_dump_version
            )
    return history, artifact, source


def judge(job: ObservedJob, finish: JobFinish) -> tuple[AttemptRecord, DumpResult | None]:
    """How one finished attempt went, trusting only a verified result for success."""
    term = finish.termination
    result = _parse_result(term.message if term else None)
    reason: str
    if finish.succeeded and result is not None and result.ok and result.artifact is not None:
        outcome, reason = AttemptOutcome.SUCCEEDED, Reason.SUCCEEDED
        message = f"{result.artifact.url} ({human_size(result.artifact.size_bytes)}) verified"
    elif finish.reason == "DeadlineExceeded":
        outcome, reason = AttemptOutcome.FAILED, Reason.DEADLINE_EXCEEDED
        message = finish.message or "the attempt ran past its activeDeadlineSeconds"
    elif finish.succeeded:
        outcome, reason = AttemptOutcome.FAILED, Reason.RESULT_MISSING
        message = "the Job completed but left no valid result: the artifact cannot be trusted"
    elif result is not None and not result.ok and result.reason is not None:
        outcome, reason, message = AttemptOutcome.FAILED, result.reason, result.message
    elif term is not None and term.reason == "OOMKilled":
        outcome, reason = AttemptOutcome.FAILED, Reason.OOM_KILLED
        message = "the dump container ran out of memory"
    elif term is not None and term.pod_reason == "Evicted":
        outcome, reason = AttemptOutcome.FAILED, Reason.EVICTED
        message = "the dump pod was evicted"
    else:
        outcome, reason = AttemptOutcome.FAILED, Reason.POD_FAILED
        exit_code = term.exit_code if term else None
        message = f"the dump pod failed (exit code {exit_code}) without a result"
    record = AttemptRecord(
        attempt=job.attempt,
        job_name=job.name,
        outcome=outcome,
        reason=reason,
        message=message,
        retryable=outcome is AttemptOutcome.FAILED and is_retryable(Reason(reason)),
        start_time=job.start_time,
        completion_time=finish.time,
    )
    return record, result


def _parse_result(message: str | None) -> DumpResult | None:
    if not message:
        return None
    try:
        return _RESULT.validate_json(message.strip())
    except ValidationError:
        return None


def _failure_message(last: AttemptRecord, max_attempts: int) -> str:
    if not last.retryable:
        return last.message
    return f"gave up after {last.attempt} of {max_attempts} attempts: {last.message}"


def _events(old: TenantBackupStatus, new: TenantBackupStatus) -> list[Event]:
    """Events of the transition from `old` to `new`. A new attempt's Job is announced when the
    status first records it, whether this pass created it or adopted it after a lost write."""
    events = [
        Event(
            type="Normal" if record.outcome is AttemptOutcome.SUCCEEDED else "Warning",
            reason=f"Attempt{record.outcome.value}",
            message=f"attempt {record.attempt} ({record.job_name}): {record.reason}: "
            f"{record.message}",
        )
        for record in new.attempt_history[len(old.attempt_history) :]
    ]
    if new.attempts > old.attempts:
        events.append(
            Event("Normal", Reason.JOB_CREATED, f"created Job {new.job_name}: {new.message}")
        )
    if new.phase is not old.phase and new.phase is not None and new.phase.terminal:
        events.append(
            Event(
                "Normal" if new.phase is Phase.SUCCEEDED else "Warning",
                new.reason or new.phase.value,
                new.message or "",
            )
        )
    return events
