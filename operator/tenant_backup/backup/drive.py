"""One reconciliation of one TenantBackup: read what exists, decide (pure), act.

Re-entrant by construction: the Job is created under a deterministic name before the status
that mentions it, and the status is written only if nobody changed the object meanwhile.
Then the follow-ups the written status owes (history, notifications) are settled.
"""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from tenant_backup.adapters.kube import Body, Kube
from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.kinds import TENANT_BACKUP
from tenant_backup.backup.job import build_job
from tenant_backup.backup.plan import Plan, hold, needs_preflight, reconcile, still_queued
from tenant_backup.backup.preflight import run_preflight
from tenant_backup.backup.settle import settle
from tenant_backup.core import naming
from tenant_backup.core.events import Event
from tenant_backup.core.gate import Slots
from tenant_backup.core.observe import ObservedJob, observe_job
from tenant_backup.core.scheduling import UNKNOWN_SERVER, Entry, State
from tenant_backup.settings import Settings

EventSink = Callable[[Body, Event], None]
CONFLICT_RETRY = timedelta(seconds=1)


WakeAt = datetime | None
"""When one pass wants the backup looked at again; None: when something happens."""


def utc_now() -> datetime:
    """The reconcile clock: UTC, whole seconds, like Kubernetes timestamps."""
    return datetime.now(UTC).replace(microsecond=0)


def drive(
    kube: Kube,
    settings: Settings,
    namespace: str,
    name: str,
    post_event: EventSink,
    slots: Slots,
) -> WakeAt:
    """Reconcile one TenantBackup once, then settle its follow-ups."""
    body = kube.get(TENANT_BACKUP, namespace, name)
    if body is None:
        return None
    backup = TenantBackup.from_body(body)
    if backup.metadata.deletion_timestamp is not None:
        return None
    wake_at, latest = advance(kube, settings, body, backup, post_event, slots)
    settle(kube, settings, latest, post_event, utc_now)
    return wake_at


def advance(
    kube: Kube,
    settings: Settings,
    body: Body,
    backup: TenantBackup,
    post_event: EventSink,
    slots: Slots,
) -> tuple[WakeAt, TenantBackup]:
    """Move the backup on by its Jobs; what was done, and the backup as last written.
    A new Job starts only if the concurrency gate admits it; otherwise the backup queues.
    A queued backup that still would not get a slot costs no checks and no writes."""
    if backup.status.finished:
        return None, backup
    jobs = observe_jobs(kube, backup)
    if still_queued(backup, jobs):
        server = backup.status.database_server
        if not slots.peek(candidate(backup, server)).allowed:
            return None, backup
    preflight = run_preflight(kube, settings, backup) if needs_preflight(backup, jobs) else None
    now = utc_now()
    plan = reconcile(backup, jobs, now, preflight)
    if plan.create_attempt is None:
        return record(kube, body, backup, plan, post_event)
    with slots.admission(candidate(backup, plan.status.database_server)) as ticket:
        if ticket.verdict.allowed:
            created = kube.create_job(build_job(backup, plan.create_attempt, settings))
            owner = [ref["uid"] for ref in created["metadata"].get("ownerReferences", [])]
            if owner != [backup.metadata.uid]:
                # A Job of a deleted namesake is still there: wait for garbage collection.
                return now + CONFLICT_RETRY, backup
            ticket.started = True
            return record(kube, body, backup, plan, post_event)
    return record(kube, body, backup, hold(plan, backup, ticket.verdict.message, now), post_event)


def candidate(backup: TenantBackup, server: str | None) -> Entry:
    """The backup as the concurrency gate sees it when it asks for a slot."""
    return Entry(
        created=backup.metadata.creation_timestamp,
        namespace=backup.metadata.namespace,
        name=backup.metadata.name,
        server=server or UNKNOWN_SERVER,
        tenant=backup.spec.tenant,
        state=State.WAITING,
    )


def record(
    kube: Kube, body: Body, backup: TenantBackup, plan: Plan, post_event: EventSink
) -> tuple[WakeAt, TenantBackup]:
    """Write the planned status if it changed and nobody wrote meanwhile; then its Events."""
    if plan.status == backup.status:
        return plan.status.next_attempt_time, backup
    written = kube.write_status(
        TENANT_BACKUP,
        backup.metadata.namespace,
        backup.metadata.name,
        backup.metadata.resource_version or "",
        plan.status.model_dump(mode="json", by_alias=True),
    )
    if not written:
        return utc_now() + CONFLICT_RETRY, backup
    for event in plan.events:
        post_event(body, event)
    latest = backup.model_copy(update={"status": plan.status})
    return plan.status.next_attempt_time, latest


def observe_jobs(kube: Kube, backup: TenantBackup) -> list[ObservedJob]:
    """Our Jobs, with pods read only for finished attempts not recorded yet."""
    recorded = {record.attempt for record in backup.status.attempt_history}
    observed = []
    jobs = kube.list_jobs(backup.metadata.namespace, {naming.LABEL_BACKUP_UID: backup.metadata.uid})
    for job in jobs:
        shallow = observe_job(job, [])
        if shallow is None:
            continue
        if shallow.finish is not None and shallow.attempt not in recorded:
            pods = kube.list_job_pods(backup.metadata.namespace, shallow.name)
            shallow = observe_job(job, pods) or shallow
        observed.append(shallow)
    return observed
