"""Pure: from a TenantBackup, its observed Jobs and the clock, the status it should have and
the one action to take. Every trigger (create, resume, Job event, resync) runs this, so the
status is always re-derived from what exists and a restart at any moment loses nothing.
The attempt machine itself is `core.attempts`; this adds what a dump delivers."""

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from tenant_backup.api.attempts import MAX_ATTEMPT_HISTORY, AttemptOutcome, Phase
from tenant_backup.api.backup import Artifact, Source, TenantBackup, TenantBackupStatus
from tenant_backup.api.reasons import Reason
from tenant_backup.api.result import DumpResult
from tenant_backup.backup.size_check import with_size_check
from tenant_backup.backup.verified import with_verified
from tenant_backup.core import attempts
from tenant_backup.core.conditions import conditions_for
from tenant_backup.core.events import Event
from tenant_backup.core.naming import FINALIZER_ARTIFACT, job_name
from tenant_backup.core.observe import ObservedJob
from tenant_backup.core.units import human_size


class PreflightFailure(StrEnum):
    """What the operator's own checks found before the first attempt."""

    SECRET_MISSING = Reason.SECRET_MISSING
    TENANT_NOT_FOUND = Reason.TENANT_NOT_FOUND
    TENANT_NOT_ALLOWED = Reason.TENANT_NOT_ALLOWED
    AUTH_FAILED = Reason.AUTH_FAILED
    TLS_FAILED = Reason.TLS_FAILED


@dataclass(frozen=True)
class Preflight:
    """The checks' verdict: None `failure` means go ahead (also when the database could not
    be reached: the Job's own attempts then decide, with retries)."""

    failure: PreflightFailure | None = None
    message: str = ""
    server: str | None = None
    """`host:port` from the Secret, when it could be read."""


DEFERRED = Preflight()
"""No checks yet: the backup can only queue, and is checked when a slot is free for it."""


@dataclass(frozen=True)
class Plan:
    """The outcome of one reconciliation."""

    status: TenantBackupStatus
    create_attempt: int | None = None
    """Create the Job for this attempt (before writing `status`)."""
    events: list[Event] = field(default_factory=list)


def may_have_jobs(backup: TenantBackup) -> bool:
    """Whether a Job of the backup can exist, so its Jobs must be listed. Not before its first
    start: our finalizer goes on before its first Job is created (a crash in between leaves
    the finalizer, and the Job is listed), so one never started and without it has none."""
    return backup.status.attempts > 0 or FINALIZER_ARTIFACT in backup.metadata.finalizers


def needs_preflight(backup: TenantBackup, jobs: list[ObservedJob]) -> bool:
    """Whether no attempt has started yet, so the operator's checks must run first."""
    return not backup.status.phase or (
        backup.status.attempts == 0
        and not attempts.own_jobs(backup.metadata.uid, jobs)
        and not backup.status.finished
    )


def still_queued(backup: TenantBackup, jobs: list[ObservedJob]) -> bool:
    """Whether the backup waits for a slot and no Job of its next attempt exists yet."""
    return backup.status.reason == Reason.QUEUED and all(
        attempt <= backup.status.attempts
        for attempt in attempts.own_jobs(backup.metadata.uid, jobs)
    )


_PARSE_RESULT = attempts.result_parser(DumpResult)


def _success_message(result: DumpResult) -> str | None:
    if result.artifact is None:
        return None
    return f"{result.artifact.url} ({human_size(result.artifact.size_bytes)}) verified"


def runner_of(backup: TenantBackup) -> attempts.Runner[DumpResult]:
    """How the backup's dump Jobs report."""
    return attempts.Runner(
        parse=_PARSE_RESULT,
        success_message=_success_message,
        job_name=lambda attempt: job_name(backup.metadata.name, attempt),
    )


def _delivered(
    old: TenantBackupStatus, judged: list[attempts.Judged[DumpResult]]
) -> tuple[Artifact | None, Source | None]:
    """The artifact of a successful attempt, and the versions any result reported."""
    artifact, source = old.artifact, old.source
    for entry in judged:
        result = entry.result
        if result is None:
            continue
        found = result.artifact
        if entry.record.outcome is AttemptOutcome.SUCCEEDED and found is not None:
            # Every fact the runner reported, plus the size for people.
            artifact = Artifact(**dataclasses.asdict(found), size=human_size(found.size_bytes))
        if result.server_version or result.pg_dump_version:
            source = Source(
                server_version=result.server_version, pg_dump_version=result.pg_dump_version
            )
    return artifact, source


def reconcile(
    backup: TenantBackup,
    jobs: list[ObservedJob],
    now: datetime,
    preflight: Preflight | None = None,
) -> Plan:
    """Decide the status and the next action; see the module docstring."""
    old = backup.status
    if old.finished:
        return Plan(status=old)
    own = attempts.own_jobs(backup.metadata.uid, jobs)
    judged = attempts.newly_finished(old, own, runner_of(backup), now)
    history = [*old.attempt_history, *(entry.record for entry in judged)]
    artifact, source = _delivered(old, judged)
    started = max([old.attempts, *own], default=0)
    if started == 0 and preflight is None:
        raise ValueError("the first attempt needs a preflight verdict")
    refusal = (
        (preflight.failure.value, preflight.message)
        if preflight is not None and preflight.failure is not None
        else None
    )
    step = attempts.next_step(old, history, started, backup.spec.retry, now, refusal)
    generation = backup.metadata.generation
    conditions = conditions_for(
        step.phase, step.reason, step.message, old.conditions, now, generation
    )
    size_events: list[Event] = []
    if step.phase is Phase.SUCCEEDED:
        conditions, size_events = with_size_check(
            conditions, backup.spec.size_check, artifact, now, generation
        )
    status = old.model_copy(
        update={
            "phase": step.phase,
            "attempts": step.attempts,
            "max_attempts": backup.spec.retry.max_attempts,
            "job_name": job_name(backup.metadata.name, step.attempts) if step.attempts else None,
            "reason": step.reason,
            "message": step.message,
            "start_time": old.start_time or now,
            "completion_time": (old.completion_time or now) if step.phase.terminal else None,
            "next_attempt_time": step.next_attempt_time,
            "observed_generation": generation,
            "artifact": artifact,
            "source": source,
            "database_server": (preflight.server if preflight else None) or old.database_server,
            "attempt_history": history[-MAX_ATTEMPT_HISTORY:],
            "conditions": with_verified(
                conditions,
                artifact.verification if artifact else None,
                step.phase is Phase.FAILED and step.reason == Reason.VERIFICATION_FAILED,
                now,
                generation,
            ),
        }
    )
    return Plan(status, step.create_attempt, attempts.attempt_events(old, status) + size_events)


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
