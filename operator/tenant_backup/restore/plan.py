"""Pure: from a TenantRestore, its observed Jobs and the clock, the status it should have and
the one action to take. Every trigger runs this, so the status is always re-derived from what
exists and a restart at any moment loses nothing. The attempt machine is `core.attempts`;
this adds what a restore reports (its step, tables and rows, checks, the previous schema)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from tenant_backup.api.attempts import MAX_ATTEMPT_HISTORY, Phase
from tenant_backup.api.reasons import Reason, RestoreReason
from tenant_backup.api.restore import (
    MAX_LISTED,
    CheckOutcome,
    ResolvedSource,
    TenantRestore,
    TenantRestoreStatus,
)
from tenant_backup.api.result import RestoreResult
from tenant_backup.core import attempts, followups, naming
from tenant_backup.core.conditions import conditions_for
from tenant_backup.core.events import Event
from tenant_backup.core.observe import ObservedJob
from tenant_backup.restore.previous import drop_pending
from tenant_backup.restore.verified import mark_due


class PreflightFailure(StrEnum):
    """What the operator's own checks found before the first attempt."""

    SECRET_MISSING = Reason.SECRET_MISSING
    TENANT_NOT_ALLOWED = Reason.TENANT_NOT_ALLOWED
    SOURCE_NOT_FOUND = Reason.SOURCE_NOT_FOUND
    DECRYPTION_FAILED = Reason.DECRYPTION_FAILED


@dataclass(frozen=True)
class Preflight:
    """The checks' verdict: None `failure` means go ahead, with the `source` resolved."""

    failure: PreflightFailure | None = None
    message: str = ""
    source: ResolvedSource | None = None
    server: str | None = None
    """`host:port` from the target's Secret, when it could be read."""


@dataclass(frozen=True)
class Plan:
    """The outcome of one reconciliation."""

    status: TenantRestoreStatus
    create_attempt: int | None = None
    """Create the Job for this attempt (before writing `status`)."""
    events: list[Event] = field(default_factory=list)


def needs_preflight(restore: TenantRestore, jobs: list[ObservedJob]) -> bool:
    """Whether no attempt has started yet, so the operator's checks must run first."""
    status = restore.status
    return not status.finished and (
        status.source is None
        or (status.attempts == 0 and not attempts.own_jobs(restore.metadata.uid, jobs))
    )


def still_queued(restore: TenantRestore, jobs: list[ObservedJob]) -> bool:
    """Whether the restore waits for a slot and no Job of its next attempt exists yet."""
    return restore.status.reason == Reason.QUEUED and all(
        attempt <= restore.status.attempts
        for attempt in attempts.own_jobs(restore.metadata.uid, jobs)
    )


def to_settle(restore: TenantRestore) -> bool:
    """Whether a restore that owes no follow-up is to be labelled settled now: as any object
    (`core.followups.to_settle`), and its verdict on the backup it verified marked, no
    previous schema left to drop."""
    return followups.to_settle(restore) and not mark_due(restore) and not drop_pending(restore)


_PARSE_RESULT = attempts.result_parser(RestoreResult)


def _success_message(result: RestoreResult) -> str | None:
    return result.message or f"restored as {result.target_schema}"


def runner_of(restore: TenantRestore) -> attempts.Runner[RestoreResult]:
    """How the restore's Jobs report."""
    return attempts.Runner(
        parse=_PARSE_RESULT,
        success_message=_success_message,
        job_name=lambda attempt: naming.restore_job_name(restore.metadata.name, attempt),
    )


def _reported(result: RestoreResult) -> dict[str, Any]:
    """The status fields a runner's result sets (those it knows)."""
    update: dict[str, Any] = {
        "step": result.step,
        "checks": [
            CheckOutcome(
                name=check.name,
                passed=check.passed,
                value=check.value,
                expected=check.expected,
                error=check.error[:1024] if check.error else None,
            )
            for check in result.checks
        ],
        "missing": list(result.missing[:MAX_LISTED]),
        "references": list(result.references[:MAX_LISTED]),
        "tables": result.tables,
        "rows": result.rows,
    }
    if result.database:
        update["database"] = result.database
    if result.previous_schema:
        update["previous_schema"] = result.previous_schema
        update["previous_kept_until"] = result.previous_kept_until
    return update


def _duration(start: datetime, end: datetime) -> str:
    seconds = max(0, int((end - start).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return "".join(f"{count}{unit}" for count, unit in ((hours, "h"), (minutes, "m")) if count) + (
        f"{seconds}s" if seconds or not (hours or minutes) else ""
    )


def reconcile(
    restore: TenantRestore,
    jobs: list[ObservedJob],
    now: datetime,
    preflight: Preflight | None = None,
    paused: Sequence[str] | None = None,
) -> Plan:
    """Decide the status and the next action; see the module docstring. `paused` names the
    schedules a running Replace pauses (None: as recorded)."""
    old = restore.status
    if old.finished:
        return Plan(status=old)
    own = attempts.own_jobs(restore.metadata.uid, jobs)
    judged = attempts.newly_finished(old, own, runner_of(restore), now)
    history = [*old.attempt_history, *(entry.record for entry in judged)]
    started = max([old.attempts, *own], default=0)
    if started == 0 and preflight is None:
        raise ValueError("the first attempt needs a preflight verdict")
    refusal = (
        (preflight.failure.value, preflight.message)
        if preflight is not None and preflight.failure is not None
        else None
    )
    step = attempts.next_step(old, history, started, restore.spec.retry, now, refusal)
    generation = restore.metadata.generation
    source = old.source or (preflight.source if preflight else None)
    tenant = restore.spec.target.tenant or (source.tenant if source else None)
    update: dict[str, Any] = {
        "phase": step.phase,
        "attempts": step.attempts,
        "max_attempts": restore.spec.retry.max_attempts,
        "job_name": naming.restore_job_name(restore.metadata.name, step.attempts)
        if step.attempts
        else None,
        "reason": step.reason,
        "message": step.message,
        "start_time": old.start_time or now,
        "completion_time": (old.completion_time or now) if step.phase.terminal else None,
        "next_attempt_time": step.next_attempt_time,
        "observed_generation": generation,
        "source": source,
        "target_schema": naming.schema_name(tenant) if tenant else old.target_schema,
        "database_server": (preflight.server if preflight else None) or old.database_server,
        "attempt_history": history[-MAX_ATTEMPT_HISTORY:],
        "conditions": conditions_for(
            step.phase, step.reason, step.message, old.conditions, now, generation
        ),
    }
    events: list[Event] = []
    for entry in judged:
        if entry.result is not None:
            update |= _reported(entry.result)
            if entry.result.already_restored:
                events.append(
                    Event(
                        "Normal",
                        RestoreReason.ALREADY_RESTORED,
                        f"{entry.result.target_schema} was swapped in by an earlier attempt",
                    )
                )
    if step.phase.terminal:
        update["duration"] = _duration(update["start_time"], update["completion_time"])
    if paused is not None and not step.phase.terminal:
        update["paused_schedules"] = sorted(paused)
        added = sorted(set(paused) - set(old.paused_schedules))
        if added:
            events.append(
                Event(
                    "Normal",
                    RestoreReason.SCHEDULES_PAUSED,
                    f"runs of tenant {tenant} wait while this restore replaces it: "
                    f"TenantBackupSchedules {', '.join(added)}",
                )
            )
    status = old.model_copy(update=update)
    return Plan(status, step.create_attempt, attempts.attempt_events(old, status) + events)


def hold(plan: Plan, restore: TenantRestore, why: str, now: datetime) -> Plan:
    """The plan when its Job may not start yet: no Job, reason Queued (Pending before the
    first attempt), and one Event when the restore starts waiting."""
    old, new = restore.status, plan.status
    phase = Phase.PENDING if old.attempts == 0 else Phase.RUNNING
    message = f"queued: {why}"
    status = new.model_copy(
        update={
            "phase": phase,
            "reason": Reason.QUEUED,
            "message": message,
            "attempts": old.attempts,
            "job_name": old.job_name,
            "conditions": conditions_for(
                phase, Reason.QUEUED, message, new.conditions, now, restore.metadata.generation
            ),
        }
    )
    events = [event for event in plan.events if event.reason != Reason.JOB_CREATED]
    if old.reason != Reason.QUEUED:
        events.append(Event("Normal", Reason.QUEUED, message))
    return Plan(status=status, events=events)
