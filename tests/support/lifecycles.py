"""TenantBackups at each stage of their life, made by the real (pure) reconcile."""

from datetime import datetime, timedelta
from typing import Any

from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.reasons import Reason
from tenant_backup.api.result import DumpResult
from tenant_backup.backup.plan import Preflight, reconcile
from tenant_backup.core.observe import JobFinish, ObservedJob, Termination
from tests.support.factories import T0, UID, backup, success_message


def job(attempt: int, start: datetime, finish: JobFinish | None = None) -> ObservedJob:
    """Attempt `attempt`'s Job as observed."""
    return ObservedJob(f"nightly-{attempt}", attempt, UID, start, finish)


def succeeded(at: datetime) -> JobFinish:
    """A finish with the runner's verified result."""
    return JobFinish(True, None, None, at, Termination(0, None, success_message(), None))


def failure_message(reason: Reason) -> str:
    """A termination message as the runner writes it for a failure (retryable unless
    PermissionDenied)."""
    retryable = reason != Reason.PERMISSION_DENIED
    result = DumpResult(ok=False, reason=reason, retryable=retryable, message=f"simulated {reason}")
    return result.to_message()


def failed(reason: Reason, at: datetime) -> JobFinish:
    """A finish with the runner's failure result."""
    return JobFinish(False, None, None, at, Termination(1, None, failure_message(reason), None))


def step(current: TenantBackup, jobs: list[ObservedJob], now: datetime) -> TenantBackup:
    """One reconciliation, its status applied."""
    preflight = Preflight() if current.status.phase is None else None
    plan = reconcile(current, jobs, now, preflight)
    return current.model_copy(update={"status": plan.status})


def lifecycle(failures: list[Reason], end: Reason | None = None, **spec: Any) -> list[TenantBackup]:
    """Every status a backup goes through: attempts failing with `failures`, then one
    succeeding (`end` None) or failing with `end`. Each attempt starts a second after its
    Job is created and ends 30 seconds later; the next is created after the longest backoff."""
    states = [step(backup(**spec), [], T0)]
    jobs: list[ObservedJob] = []
    outcomes: list[Reason | None] = [*failures, end]
    created = T0
    for attempt, outcome in enumerate(outcomes, start=1):
        start = created + timedelta(seconds=1)
        done = start + timedelta(seconds=30)
        jobs.append(
            job(attempt, start, succeeded(done) if outcome is None else failed(outcome, done))
        )
        states.append(step(states[-1], jobs, done))
        if attempt < len(outcomes):
            created = done + timedelta(seconds=600)
            states.append(step(states[-1], jobs, created))
    return states
