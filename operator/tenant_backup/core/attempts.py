"""Pure: the attempt machine every kind that runs one Job per attempt shares.

From a status, the Jobs observed and the clock: which attempts finished and how (judged
from the runner's result only), and the next step: succeed, fail, wait out a backoff, or
start the next attempt. Retryable and permanent reasons, the backoff and the attempt
history are decided here once; a kind adds what its result carries (an artifact, say).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

from pydantic import TypeAdapter, ValidationError

from tenant_backup.api.attempts import (
    AttemptOutcome,
    AttemptRecord,
    AttemptStatus,
    Phase,
    RetryPolicy,
)
from tenant_backup.api.reasons import Reason, is_retryable
from tenant_backup.core.events import Event
from tenant_backup.core.observe import JobFinish, ObservedJob


class RunResult(Protocol):
    """What the attempt machine reads of any runner result."""

    @property
    def ok(self) -> bool: ...
    @property
    def reason(self) -> Reason | None: ...
    @property
    def message(self) -> str: ...


R = TypeVar("R", bound=RunResult)


@dataclass(frozen=True)
class Judged(Generic[R]):
    """One finished attempt: its record, and the runner's result if it left a valid one."""

    record: AttemptRecord
    result: R | None


def result_parser(result_type: type[R]) -> Callable[[str | None], R | None]:
    """How a kind reads its runner's termination message: as one `result_type`, or None
    when there is none or it is not a valid one (the attempt then failed without a result)."""
    adapter = TypeAdapter(result_type)

    def parse(message: str | None) -> R | None:
        if not message:
            return None
        try:
            return adapter.validate_json(message.strip())
        except ValidationError:
            return None

    return parse


@dataclass(frozen=True)
class Runner(Generic[R]):
    """How a kind reads its runner: parse a termination message, and say what a successful
    result delivered (None when the result, although ok, lacks what success needs)."""

    parse: Callable[[str | None], R | None]
    success_message: Callable[[R], str | None]
    job_name: Callable[[int], str]
    """The Job name of attempt n."""


@dataclass(frozen=True)
class Step:
    """Where the object goes next."""

    phase: Phase
    reason: str
    message: str
    attempts: int
    create_attempt: int | None = None
    """Start this attempt's Job now."""
    next_attempt_time: datetime | None = None
    """While waiting out a backoff: when the next attempt is due."""


def backoff(policy: RetryPolicy, failed_attempt: int) -> timedelta:
    """Wait after failed attempt n: backoffSeconds * 2^(n-1), capped."""
    seconds = min(policy.backoff_seconds * 2 ** (failed_attempt - 1), policy.max_backoff_seconds)
    return timedelta(seconds=seconds)


def own_jobs(owner_uid: str, jobs: Iterable[ObservedJob]) -> dict[int, ObservedJob]:
    """The Jobs the object controls, by attempt."""
    return {job.attempt: job for job in jobs if job.owner_uid == owner_uid}


def judge(job: ObservedJob, finish: JobFinish, runner: Runner[R]) -> Judged[R]:
    """How one finished attempt went, trusting only a valid result for success."""
    term = finish.termination
    result = runner.parse(term.message if term else None)
    success = runner.success_message(result) if result is not None and result.ok else None
    reason: str
    if finish.succeeded and success:
        outcome, reason, message = AttemptOutcome.SUCCEEDED, Reason.SUCCEEDED, success
    elif finish.reason == "DeadlineExceeded":
        outcome, reason = AttemptOutcome.FAILED, Reason.DEADLINE_EXCEEDED
        message = finish.message or "the attempt ran past its activeDeadlineSeconds"
    elif finish.succeeded:
        outcome, reason = AttemptOutcome.FAILED, Reason.RESULT_MISSING
        message = "the Job completed but left no valid result: its outcome cannot be trusted"
    elif result is not None and not result.ok and result.reason is not None:
        outcome, reason, message = AttemptOutcome.FAILED, result.reason, result.message
    elif term is not None and term.reason == "OOMKilled":
        outcome, reason = AttemptOutcome.FAILED, Reason.OOM_KILLED
        message = "the runner's container ran out of memory"
    elif term is not None and term.pod_reason == "Evicted":
        outcome, reason, message = AttemptOutcome.FAILED, Reason.EVICTED, "the pod was evicted"
    else:
        outcome, reason = AttemptOutcome.FAILED, Reason.POD_FAILED
        exit_code = term.exit_code if term else None
        message = f"the pod failed (exit code {exit_code}) without a result"
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
    return Judged(record, result)


def newly_finished(
    status: AttemptStatus, own: dict[int, ObservedJob], runner: Runner[R], now: datetime
) -> list[Judged[R]]:
    """Attempts that ended since `status` was written, in order. A started attempt whose Job
    is gone before its result was recorded failed retryably (`JobDeleted`)."""
    history = status.attempt_history
    recorded = {record.attempt for record in history}
    newest_recorded = history[-1].attempt if history else 0
    judged: list[Judged[R]] = []
    for attempt in range(newest_recorded + 1, max([status.attempts, *own], default=0) + 1):
        if attempt in recorded:
            continue
        job = own.get(attempt)
        if job is None and attempt <= status.attempts:
            name = runner.job_name(attempt)
            record = AttemptRecord(
                attempt=attempt,
                job_name=name,
                outcome=AttemptOutcome.FAILED,
                reason=Reason.JOB_DELETED,
                message=f"Job {name} was deleted before its result was recorded",
                retryable=True,
                completion_time=now,
            )
            judged.append(Judged(record, None))
        elif job is not None and job.finish is not None:
            judged.append(judge(job, job.finish, runner))
    return judged


def next_step(
    old: AttemptStatus,
    history: list[AttemptRecord],
    started: int,
    policy: RetryPolicy,
    now: datetime,
    refusal: tuple[str, str] | None,
    give_up: bool = True,
) -> Step:
    """The step after `old`, given the full attempt `history` and the newest attempt
    `started` (by status or by an existing Job). `refusal` (reason, message) fails an object
    before its first attempt; it is only consulted then. Without `give_up`, no failure is
    final (see `_retry_forever`)."""
    last = history[-1] if history else None
    max_attempts = policy.max_attempts
    if last is not None and last.outcome is AttemptOutcome.SUCCEEDED:
        return Step(Phase.SUCCEEDED, Reason.SUCCEEDED, last.message, started)
    if last is not None and last.attempt == started and not give_up:
        return _retry_forever(last, started, policy, now)
    if last is not None and last.attempt == started:
        if not last.retryable:
            return Step(Phase.FAILED, last.reason, last.message, started)
        if started >= max_attempts:
            message = f"gave up after {last.attempt} of {max_attempts} attempts: {last.message}"
            return Step(Phase.FAILED, last.reason, message, started)
        due = last.completion_time + backoff(policy, started)
        if now >= due:
            message = f"attempt {started + 1} of {max_attempts} started after {last.reason}"
            return Step(Phase.RUNNING, Reason.JOB_CREATED, message, started + 1, started + 1)
        message = (
            f"attempt {started} of {max_attempts} failed ({last.reason}); "
            f"next attempt at {due.isoformat()}"
        )
        return Step(Phase.RUNNING, Reason.RETRY_SCHEDULED, message, started, next_attempt_time=due)
    if started == 0:
        if refusal is not None:
            return Step(Phase.FAILED, refusal[0], refusal[1], 0)
        return Step(Phase.RUNNING, Reason.JOB_CREATED, f"attempt 1 of {max_attempts} started", 1, 1)
    if old.reason == Reason.JOB_CREATED and old.attempts == started:
        message = old.message or f"attempt {started} of {max_attempts} running"
        return Step(Phase.RUNNING, Reason.JOB_CREATED, message, started)
    # Its Job exists but the status saying so was never written (a write conflict, or a
    # restart): whatever the status said before (Queued, a retry's wait) is over.
    message = f"attempt {started} of {max_attempts} running"
    return Step(Phase.RUNNING, Reason.JOB_CREATED, message, started)


def _retry_forever(last: AttemptRecord, started: int, policy: RetryPolicy, now: datetime) -> Step:
    """After failed attempt `started`, the next one, whatever the failure: retryable ones
    back off as usual up to `maxAttempts`; after that, or after a permanent failure (which
    a person must fix), every `maxBackoffSeconds`, the message saying so."""
    if last.retryable and started < policy.max_attempts:
        due = last.completion_time + backoff(policy, started)
        why = f"attempt {started} failed ({last.reason})"
    else:
        due = last.completion_time + timedelta(seconds=policy.max_backoff_seconds)
        cause = "a permanent failure" if not last.retryable else f"{started} attempts"
        why = (
            f"attempt {started} failed ({last.reason}); after {cause}, retrying every "
            f"{policy.max_backoff_seconds}s until it succeeds"
        )
    if now >= due:
        message = f"attempt {started + 1} started after {last.reason}"
        return Step(Phase.RUNNING, Reason.JOB_CREATED, message, started + 1, started + 1)
    message = f"{why}; next attempt at {due.isoformat()}"
    return Step(Phase.RUNNING, Reason.RETRY_SCHEDULED, message, started, next_attempt_time=due)


def attempt_events(old: AttemptStatus, new: AttemptStatus) -> list[Event]:
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
    if new.phase is not old.phase and new.finished:
        phase = new.phase or Phase.FAILED
        events.append(
            Event(
                "Normal" if phase is Phase.SUCCEEDED else "Warning",
                new.reason or phase.value,
                new.message or "",
            )
        )
    return events
