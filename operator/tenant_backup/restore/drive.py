"""One reconciliation of one TenantRestore: read what exists, decide (pure), act; then settle
the follow-ups the written status owes (history, notifications) and, once `keepPreviousFor`
has passed, drop the previous schema a Replace kept (`restore.previous`): the operator's own
connection through the outbound gate, as its preflight checks connect, for one statement on
the exact schema the runner's marker names.

Re-entrant by construction, as a backup's: the Job is created under a deterministic name
before the status that mentions it, and the status is written only if nobody changed the
object meanwhile. A new Job starts only if the concurrency gate admits it (a backup and a
restore of one tenant on one server never run at once). The runner itself makes a repeated
attempt safe: its temporary names derive from the restore id, and a swap already done is
recognised (`alreadyRestored`).
"""

from datetime import datetime

from tenant_backup.adapters import db, outbound, passes
from tenant_backup.adapters.kube import Body, Kube
from tenant_backup.adapters.passes import CONFLICT_RETRY, EventSink, WakeAt, owned_by, utc_now
from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.contract import database_server, missing_keys
from tenant_backup.api.kinds import TENANT_BACKUP, TENANT_BACKUP_SCHEDULE, TENANT_RESTORE
from tenant_backup.api.restore import Mode, TenantRestore, TenantRestoreStatus
from tenant_backup.api.schedule import TenantBackupSchedule
from tenant_backup.core import naming
from tenant_backup.core.database_access import (
    as_seen_from_operator,
    secret_layout,
    tls_material,
)
from tenant_backup.core.followups import Update
from tenant_backup.core.gate import Slots
from tenant_backup.core.observe import ObservedJob
from tenant_backup.core.restoring import covers
from tenant_backup.core.scheduling import UNKNOWN_SERVER, Entry, State
from tenant_backup.restore.job import build_job, restore_id
from tenant_backup.restore.plan import (
    Plan,
    hold,
    needs_preflight,
    reconcile,
    still_queued,
    to_settle,
)
from tenant_backup.restore.preflight import run_preflight
from tenant_backup.restore.previous import drop_due, drop_pending, dropped, not_dropped
from tenant_backup.restore.settle import settle
from tenant_backup.restore.verified import mark_due, verification
from tenant_backup.settings import Settings


def drive(
    kube: Kube,
    settings: Settings,
    namespace: str,
    name: str,
    post_event: EventSink,
    slots: Slots,
) -> WakeAt:
    """Reconcile one TenantRestore once, then settle its follow-ups; when to look at it
    again."""
    body = kube.get(TENANT_RESTORE, namespace, name)
    if body is None:
        return None
    restore = TenantRestore.from_body(body)
    if restore.metadata.deletion_timestamp is not None:
        return None
    wake_at, latest = advance(kube, settings, body, restore, post_event, slots)
    settled = settle(kube, settings, latest, post_event, utc_now)
    mark_at = mark_backup(kube, latest, post_event)
    drop_at = drop_previous(kube, settings, latest, post_event)
    if settled is not None and to_settle(settled):
        kube.label(TENANT_RESTORE, namespace, name, {naming.LABEL_SETTLED: "true"})
    return min((at for at in (wake_at, mark_at, drop_at) if at is not None), default=None)


def mark_backup(kube: Kube, latest: TenantRestore, post_event: EventSink) -> WakeAt:
    """A finished Verify restore: its verdict as the source TenantBackup's `RestoreVerified`
    condition, then `verifiedMarked` on the restore (each write conditional on the object as
    read; a pass that loses a race is repeated)."""
    if not mark_due(latest):
        return None
    meta = latest.metadata
    body = kube.get(TENANT_RESTORE, meta.namespace, meta.name)
    if body is None:
        return None
    restore = TenantRestore.from_body(body)
    if restore.metadata.uid != meta.uid or not mark_due(restore) or restore.status.source is None:
        return None
    backup_name = restore.status.source.backup or ""
    backup_body = kube.get(TENANT_BACKUP, meta.namespace, backup_name)
    if backup_body is not None:
        backup = TenantBackup.from_body(backup_body)
        verdict = verification(backup, restore)
        if verdict.conditions is not None:
            status = backup.status.model_copy(update={"conditions": verdict.conditions})
            written = kube.write_status(TENANT_BACKUP, backup.metadata, status)
            if not written:
                return utc_now() + CONFLICT_RETRY
            for event in verdict.events:
                post_event(backup_body, event)
    marked = restore.status.model_copy(update={"verified_marked": True})
    written = kube.write_status(TENANT_RESTORE, restore.metadata, marked)
    return None if written else utc_now() + CONFLICT_RETRY


def drop_previous(
    kube: Kube, settings: Settings, latest: TenantRestore, post_event: EventSink
) -> WakeAt:
    """Drop the previous schema `latest` kept, if its time has passed; when it will have."""
    if not drop_pending(latest):
        return None
    now = utc_now()
    if not drop_due(latest, now):
        return latest.status.previous_kept_until
    meta = latest.metadata
    body = kube.get(TENANT_RESTORE, meta.namespace, meta.name)  # as it is now, to write
    if body is None:
        return None
    restore = TenantRestore.from_body(body)
    if restore.metadata.uid != meta.uid or restore.metadata.deletion_timestamp is not None:
        return None
    if not drop_due(restore, now):
        return None
    update = _drop(kube, settings, restore, now)
    written = kube.write_status(TENANT_RESTORE, restore.metadata, update.status)
    if not written:
        return utc_now() + CONFLICT_RETRY
    for event in update.events:
        post_event(body, event)
    return None  # a drop to try again is the resync's


def _drop(
    kube: Kube, settings: Settings, restore: TenantRestore, now: datetime
) -> Update[TenantRestoreStatus]:
    """Drop the restore's previous schema, checked against its marker; how it went."""
    status, database = restore.status, restore.spec.target.database
    secret_name = database.secret_ref.name
    namespace = restore.metadata.namespace
    secret = kube.read_secret(namespace, secret_name)
    if secret is None or missing_keys(secret_layout(database), secret):
        return not_dropped(restore, f"Secret {secret_name} is missing or incomplete", now)
    tls = tls_material(database, lambda name: kube.read_secret(namespace, name))
    if isinstance(tls, str):
        return not_dropped(restore, tls, now)
    try:
        outcome = db.drop_previous_schema(
            as_seen_from_operator(secret, namespace),
            database.ssl_mode.value,
            tls,
            settings.preflight_timeout_seconds,
            outbound.policy_of(settings),
            previous=status.previous_schema or "",
            target=status.target_schema or "",
            restore_id=restore_id(restore),
            now=now,
        )
    except db.UnreachableError as error:
        return not_dropped(restore, str(error), now)
    if outcome is db.DropOutcome.NOT_OURS:
        why = "its marker does not name it as what this restore swapped out, expired"
        return not_dropped(restore, why, now, left_alone=True)
    return dropped(restore, outcome is db.DropOutcome.GONE, now)


def advance(
    kube: Kube,
    settings: Settings,
    body: Body,
    restore: TenantRestore,
    post_event: EventSink,
    slots: Slots,
) -> tuple[WakeAt, TenantRestore]:
    """Move the restore on by its Jobs; when to look again, and the restore as last written."""
    if restore.status.finished:
        return None, restore
    jobs = observe_jobs(kube, restore)
    server = restore.status.database_server
    if still_queued(restore, jobs) and not slots.peek(candidate(restore, server)).allowed:
        return None, restore
    preflight = run_preflight(kube, settings, restore) if needs_preflight(restore, jobs) else None
    server = (preflight.server if preflight else None) or server
    now = utc_now()
    plan = reconcile(restore, jobs, now, preflight, paused_schedules(kube, restore, server))
    source = plan.status.source
    if plan.create_attempt is None or source is None:
        woken, latest = record(kube, body, restore, plan, post_event)
        key = TENANT_RESTORE.kind, restore.metadata.namespace, restore.metadata.name
        slots.recorded(key, restore.status, latest.status)
        if latest.status.finished:
            kube.settle_jobs(restore.metadata.namespace, [job.name for job in jobs])
        return woken, latest
    with slots.admission(candidate(restore, plan.status.database_server)) as ticket:
        if ticket.verdict.allowed:
            pod = kube.pod_config(restore.metadata.namespace)
            job = build_job(restore, source, plan.create_attempt, settings, pod)
            created = kube.create_job(job)
            if not owned_by(created, restore.metadata.uid):
                # A Job of a deleted namesake is still there: wait for garbage collection.
                return now + CONFLICT_RETRY, restore
            ticket.started = True
            return record(kube, body, restore, plan, post_event)
    return record(kube, body, restore, hold(plan, restore, ticket.verdict.message, now), post_event)


def candidate(restore: TenantRestore, server: str | None) -> Entry:
    """The restore as the concurrency gate sees it when it asks for a slot."""
    return Entry(
        created=restore.metadata.creation_timestamp,
        namespace=restore.metadata.namespace,
        name=restore.metadata.name,
        server=server or UNKNOWN_SERVER,
        tenant=restore.target_tenant or "",
        state=State.WAITING,
        kind=TENANT_RESTORE.kind,
    )


def paused_schedules(kube: Kube, restore: TenantRestore, server: str | None) -> list[str] | None:
    """A Replace's schedules of this namespace that back up its tenant on its server (their
    runs of the tenant skip their slots while it runs); None for other modes."""
    tenant = restore.target_tenant
    if restore.spec.mode is not Mode.REPLACE or server is None or tenant is None:
        return None
    namespace = restore.metadata.namespace
    servers: dict[str, str | None] = {}
    paused = []
    for body in kube.list_objects(TENANT_BACKUP_SCHEDULE, namespace):
        schedule = TenantBackupSchedule.from_body(body)
        if not covers(schedule, tenant):
            continue
        secret_name = schedule.spec.template.database.secret_ref.name
        if secret_name not in servers:
            secret = kube.read_secret(namespace, secret_name)
            usable = secret is not None and not missing_keys(
                secret_layout(schedule.spec.template.database), secret
            )
            servers[secret_name] = database_server(secret) if secret and usable else None
        if servers[secret_name] == server:
            paused.append(schedule.metadata.name)
    return paused


def record(
    kube: Kube, body: Body, restore: TenantRestore, plan: Plan, post_event: EventSink
) -> tuple[WakeAt, TenantRestore]:
    """See `passes.record`."""
    return passes.record(kube, TENANT_RESTORE, body, restore, plan, post_event)


def observe_jobs(kube: Kube, restore: TenantRestore) -> list[ObservedJob]:
    """The restore's Jobs, with pods read only for finished attempts not recorded yet."""
    namespace = restore.metadata.namespace
    jobs = kube.list_jobs(namespace, {naming.LABEL_RESTORE_UID: restore.metadata.uid})
    return passes.observe_jobs(kube, namespace, jobs, restore.status)
