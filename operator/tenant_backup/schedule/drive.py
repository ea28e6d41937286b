"""One pass over one TenantBackupSchedule: read it, find the slot due and its tenants, decide
(pure), create the runs, prune, then write the status if nobody wrote meanwhile.

Runs are created under deterministic names before the status that says so: a pass repeated
after a crash or a lost write adopts them instead of creating more. A same-named object that
is not one of the schedule's runs is never touched: its tenant skips that slot.
"""

from collections.abc import Sequence
from datetime import datetime

from tenant_backup.adapters.kube import Body, Kube
from tenant_backup.adapters.passes import CONFLICT_RETRY, EventSink, WakeAt, utc_now
from tenant_backup.api.contract import database_server, missing_keys
from tenant_backup.api.kinds import TENANT_BACKUP, TENANT_BACKUP_SCHEDULE, TENANT_RESTORE
from tenant_backup.api.schedule import TenantBackupSchedule
from tenant_backup.core import naming
from tenant_backup.core.database_access import secret_layout
from tenant_backup.core.restoring import Replacing, busy_tenants
from tenant_backup.schedule.drills import DrillRun
from tenant_backup.schedule.plan import Invalid, SchedulePlan, configure, names_taken, plan
from tenant_backup.schedule.runs import Run, is_ours
from tenant_backup.schedule.tenants import resolve_tenants
from tenant_backup.schedule.timing import due
from tenant_backup.settings import Settings


def drive(
    kube: Kube,
    settings: Settings,
    namespace: str,
    name: str,
    post_event: EventSink,
    runs: Sequence[Run],
    now: datetime | None = None,
    replacing: Sequence[Replacing] = (),
    drills: Sequence[DrillRun] = (),
) -> WakeAt:
    """Reconcile one schedule once; when to look at it again. `replacing`: the Replace
    restores running anywhere (their tenants' runs on this schedule's server skip their
    slot); `drills`: the schedule's restore drills."""
    body = kube.get(TENANT_BACKUP_SCHEDULE, namespace, name)
    if body is None:
        return None
    schedule = TenantBackupSchedule.from_body(body)
    if schedule.metadata.deletion_timestamp is not None:
        return None
    now = now or utc_now()
    config = configure(schedule)
    slot_due = None
    if not isinstance(config, Invalid):
        slot_due = due(
            config.cron,
            schedule.status.last_schedule_time,
            schedule.metadata.creation_timestamp,
            now,
            None if schedule.spec.suspend else config.deadline,
        )
    tenants = None
    if slot_due is not None and slot_due.slot is not None and not schedule.spec.suspend:
        tenants = resolve_tenants(kube, settings, schedule)
    restoring = _restoring(kube, schedule, replacing) if schedule.status.slot or tenants else {}
    decided = plan(schedule, config, slot_due, tenants, runs, now, restoring, drills)
    decided = names_taken(decided, _create_runs(kube, name, decided))
    for run_name in decided.prunes:
        _prune(kube, namespace, run_name)
    for manifest in decided.drill_creates:
        kube.create(TENANT_RESTORE, manifest)  # a foreign namesake is left alone
    for drill_name in decided.drill_deletes:
        kube.delete(TENANT_RESTORE, namespace, drill_name)
    return _record(kube, body, schedule, decided, post_event)


def _restoring(
    kube: Kube, schedule: TenantBackupSchedule, replacing: Sequence[Replacing]
) -> dict[str, str]:
    """The tenants being replaced on the schedule's server (its Secret read only if any
    Replace runs), each with its restore."""
    if not replacing:
        return {}
    secret = kube.read_secret(
        schedule.metadata.namespace, schedule.spec.template.database.secret_ref.name
    )
    if secret is None or missing_keys(secret_layout(schedule.spec.template.database), secret):
        return {}
    return busy_tenants(database_server(secret), replacing)


def _create_runs(kube: Kube, schedule: str, decided: SchedulePlan) -> list[tuple[str, str]]:
    """Create the planned runs; (tenant, name) of those whose name a foreign object holds."""
    taken = []
    for manifest in decided.creates:
        existing = kube.create(TENANT_BACKUP, manifest)
        if not is_ours(existing, schedule):
            taken.append((manifest["spec"]["tenant"], manifest["metadata"]["name"]))
    return taken


def _prune(kube: Kube, namespace: str, name: str) -> None:
    """Delete a run, its artifact first: the annotation tells the run's finalizer to delete
    the artifact even when the template says Retain."""
    kube.annotate(TENANT_BACKUP, namespace, name, {naming.ANNOTATION_DELETE_ARTIFACT: "true"})
    kube.delete(TENANT_BACKUP, namespace, name)


def _record(
    kube: Kube,
    body: Body,
    schedule: TenantBackupSchedule,
    decided: SchedulePlan,
    post_event: EventSink,
) -> WakeAt:
    """Write the status if it changed and nobody wrote meanwhile; then post the Events."""
    if decided.status != schedule.status:
        written = kube.write_status(TENANT_BACKUP_SCHEDULE, schedule.metadata, decided.status)
        if not written:
            return utc_now() + CONFLICT_RETRY
    for event in decided.events:
        post_event(body, event)
    return decided.wake_at
