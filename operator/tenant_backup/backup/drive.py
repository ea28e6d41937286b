"""One reconciliation of one TenantBackup: read what exists, decide (pure), act.

Re-entrant by construction: the Job is created under a deterministic name before the status
that mentions it, and the status is written only if nobody changed the object meanwhile.
Then the follow-ups the written status owes (history, notifications) are settled, and a
finished backup that owes nothing more is labelled settled (out of the operator's watch). Our
finalizer goes on before the first Job; once the object is being deleted, `finalize`
decides its artifact's fate (`backup.deletion`) before releasing it.
"""

from tenant_backup.adapters import passes
from tenant_backup.adapters.kube import Body, Kube
from tenant_backup.adapters.passes import CONFLICT_RETRY, EventSink, WakeAt, owned_by, utc_now
from tenant_backup.api.backup import DeletionStatus, TenantBackup
from tenant_backup.api.kinds import TENANT_BACKUP
from tenant_backup.backup.deletion import plan_deletion
from tenant_backup.backup.job import build_job
from tenant_backup.backup.plan import (
    DEFERRED,
    Plan,
    hold,
    may_have_jobs,
    needs_preflight,
    reconcile,
    still_queued,
)
from tenant_backup.backup.preflight import run_preflight
from tenant_backup.backup.prune_job import build_prune_job
from tenant_backup.backup.settle import settle
from tenant_backup.core import naming
from tenant_backup.core.followups import to_settle
from tenant_backup.core.gate import Slots
from tenant_backup.core.observe import ObservedJob
from tenant_backup.core.scheduling import UNKNOWN_SERVER, Entry, State
from tenant_backup.settings import Settings


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
        return finalize(kube, settings, body, backup, post_event)
    wake_at, latest = advance(kube, settings, body, backup, post_event, slots)
    settled = settle(kube, settings, latest, post_event, utc_now)
    if settled is not None and to_settle(settled):
        kube.label(TENANT_BACKUP, namespace, name, {naming.LABEL_SETTLED: "true"})
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
    A queued backup that still would not get a slot costs no checks and no writes, and one
    never started not even a listing of its Jobs."""
    if backup.status.finished:
        return None, backup
    jobs = observe_jobs(kube, backup)[0] if may_have_jobs(backup) else []
    if still_queued(backup, jobs):
        server = backup.status.database_server
        if not slots.peek(candidate(backup, server)).allowed:
            return None, backup
    now = utc_now()
    preflight = None
    if needs_preflight(backup, jobs):
        turn = slots.peek(candidate(backup, backup.status.database_server))
        if not turn.allowed:
            # It can only queue: a burst of thousands costs no Secret read and no database
            # connection each; the checks run when its turn comes, fresh.
            plan = hold(reconcile(backup, jobs, now, DEFERRED), backup, turn.message, now)
            return record(kube, body, backup, plan, post_event)
        preflight = run_preflight(kube, settings, backup)
    plan = reconcile(backup, jobs, now, preflight)
    if plan.create_attempt is None:
        woken, latest = record(kube, body, backup, plan, post_event)
        key = TENANT_BACKUP.kind, backup.metadata.namespace, backup.metadata.name
        slots.recorded(key, backup.status, latest.status)
        if latest.status.finished:
            kube.settle_jobs(backup.metadata.namespace, [job.name for job in jobs])
        return woken, latest
    with slots.admission(candidate(backup, plan.status.database_server)) as ticket:
        if ticket.verdict.allowed:
            # Our finalizer first, so that no artifact exists without it.
            marked = kube.add_finalizer(TENANT_BACKUP, body, naming.FINALIZER_ARTIFACT)
            if marked is None:
                return now + CONFLICT_RETRY, backup
            body, backup = marked, TenantBackup.from_body(marked)
            pod = kube.pod_config(backup.metadata.namespace)
            created = kube.create_job(build_job(backup, plan.create_attempt, settings, pod))
            if not owned_by(created, backup.metadata.uid):
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
    """See `passes.record`."""
    return passes.record(kube, TENANT_BACKUP, body, backup, plan, post_event)


def finalize(
    kube: Kube, settings: Settings, body: Body, backup: TenantBackup, post_event: EventSink
) -> WakeAt:
    """One pass over a backup being deleted: wait, prune its artifact, or release it (see
    `backup.deletion`). Released only by a removal that saw the object as planned."""
    if naming.FINALIZER_ARTIFACT not in backup.metadata.finalizers:
        return None
    dumps, prunes = observe_jobs(kube, backup)
    now = utc_now()
    plan = plan_deletion(backup, dumps, prunes, now)
    if plan.release:
        if not kube.remove_finalizer(TENANT_BACKUP, body, naming.FINALIZER_ARTIFACT):
            return now + CONFLICT_RETRY
        for event in plan.events:
            post_event(body, event)
        return None
    if plan.status is None or plan.status == backup.status.deletion:
        return plan.status.next_attempt_time if plan.status else None
    if plan.create_attempt is not None:
        url = plan.status.artifact_url or ""
        pod = kube.pod_config(backup.metadata.namespace)
        job = build_prune_job(backup, url, plan.create_attempt, settings, pod)
        if not owned_by(kube.create_job(job), backup.metadata.uid):
            return now + CONFLICT_RETRY
    status = backup.status.model_copy(update={"deletion": plan.status})
    written = kube.write_status(TENANT_BACKUP, backup.metadata, status)
    if not written:
        return now + CONFLICT_RETRY
    for event in plan.events:
        post_event(body, event)
    return plan.status.next_attempt_time


def observe_jobs(kube: Kube, backup: TenantBackup) -> tuple[list[ObservedJob], list[ObservedJob]]:
    """Our dump Jobs and prune Jobs, with pods read only for finished attempts not recorded
    yet."""
    jobs = kube.list_jobs(backup.metadata.namespace, {naming.LABEL_BACKUP_UID: backup.metadata.uid})
    prunes = [job for job in jobs if _command(job) == naming.PRUNE]
    dumps = [job for job in jobs if _command(job) != naming.PRUNE]
    deletion = backup.status.deletion or DeletionStatus()
    return (
        passes.observe_jobs(kube, backup.metadata.namespace, dumps, backup.status),
        passes.observe_jobs(kube, backup.metadata.namespace, prunes, deletion),
    )


def _command(job: Body) -> str | None:
    labels: dict[str, str] = job["metadata"].get("labels") or {}
    return labels.get(naming.LABEL_COMMAND)
