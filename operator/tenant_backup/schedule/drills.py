"""Pure: a schedule's restore drills. Each is a `Verify` TenantRestore of a tenant's newest
Succeeded run, owned by the schedule and labelled with it, its tenant and `drill`, named after
the run it drills (so a run is drilled at most once, and a pass repeated after a crash adopts
the drill it created). A drill is due when the tenant has a newer Succeeded run than the one
last drilled, no drill of it runs, and `every` Succeeded runs finished since the last drill
(or `period` has passed since it was created). The newest `keep` finished drills of each
tenant stay; older ones are deleted."""

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tenant_backup.api.attempts import Phase
from tenant_backup.api.durations import Duration
from tenant_backup.api.kinds import API_VERSION, TENANT_BACKUP_SCHEDULE, TENANT_RESTORE
from tenant_backup.api.meta import owner_reference
from tenant_backup.api.notifications import NotifyOn
from tenant_backup.api.restore import Mode, RestoreTarget, TenantRestoreSpec
from tenant_backup.api.schedule import Drill, RunRef, TenantBackupSchedule
from tenant_backup.core import naming
from tenant_backup.core.observe import parse_time
from tenant_backup.schedule.runs import Run

Body = dict[str, Any]
NAME_MAX_LENGTH = 63
SUFFIX = "-drill"
_DIGEST_LENGTH = 8


@dataclass(frozen=True)
class DrillRun:
    """One drill of a schedule, read from its watch body."""

    name: str
    tenant: str
    backup: str
    """The run it restores."""
    created: datetime
    phase: Phase | None
    completion: datetime | None
    deleting: bool

    @property
    def looks(self) -> tuple[object, ...]:
        """What of a drill its schedule decides on: a change makes it decide again."""
        return self.phase, self.deleting

    @property
    def finished(self) -> bool:
        """Succeeded or Failed."""
        return self.phase is not None and self.phase.terminal

    def ref(self) -> RunRef:
        """The drill as the schedule's status shows it."""
        return RunRef(name=self.name, time=self.completion or self.created, phase=self.phase)


@dataclass(frozen=True)
class DrillPlan:
    """What a pass does about drills."""

    creates: list[Body] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    last: dict[str, RunRef] = field(default_factory=dict)
    """Each tenant's newest drill (after the pass)."""
    wake_at: datetime | None = None
    """When a `period` makes the next drill due."""


def drill_of(body: Mapping[str, Any]) -> DrillRun | None:
    """A schedule's drill as a DrillRun; None for a restore that is not a drill."""
    metadata = body["metadata"]
    labels = metadata.get("labels") or {}
    source = (body.get("spec") or {}).get("source") or {}
    backup = (source.get("backupRef") or {}).get("name")
    if labels.get(naming.LABEL_DRILL) != "true" or not isinstance(backup, str):
        return None
    status = body.get("status") or {}
    phase = status.get("phase")
    return DrillRun(
        name=metadata["name"],
        tenant=labels.get(naming.LABEL_TENANT, ""),
        backup=backup,
        created=datetime.fromisoformat(metadata["creationTimestamp"]),
        phase=Phase(phase) if phase in set(Phase) else None,
        completion=parse_time(status.get("completionTime")),
        deleting=metadata.get("deletionTimestamp") is not None,
    )


def drill_name(backup: str) -> str:
    """`<backup>-drill`, cut and hashed to fit a TenantRestore's 63 characters."""
    if len(backup) + len(SUFFIX) <= NAME_MAX_LENGTH:
        return backup + SUFFIX
    digest = hashlib.sha256(backup.encode()).hexdigest()[:_DIGEST_LENGTH]
    keep = NAME_MAX_LENGTH - len(SUFFIX) - _DIGEST_LENGTH - 1
    return f"{backup[:keep].rstrip('-.')}-{digest}{SUFFIX}"


def drill_manifest(schedule: TenantBackupSchedule, tenant: str, backup: str) -> Body:
    """The Verify TenantRestore drilling run `backup` of `tenant`, owned by the schedule: the
    template's retry, deadline and notification channels (on failure only)."""
    meta, spec = schedule.metadata, schedule.spec
    drill = spec.drill or Drill()
    restore = TenantRestoreSpec.model_validate(
        {
            "source": {"backupRef": {"name": backup}},
            "target": RestoreTarget(database=drill.database or spec.template.database),
            "mode": Mode.VERIFY,
            "verify_database": drill.verify_database,
            "checks": drill.checks,
            "retry": spec.template.retry,
            "timeouts": {"active_deadline_seconds": spec.template.timeouts.active_deadline_seconds},
            # A drill that fails is news; one that succeeds is the metric and the condition.
            "notifications": spec.template.notifications.model_copy(
                update={"on": [NotifyOn.FAILED]}
            ),
        }
    )
    return {
        "apiVersion": API_VERSION,
        "kind": TENANT_RESTORE.kind,
        "metadata": {
            "name": drill_name(backup),
            "namespace": meta.namespace,
            "labels": {
                naming.LABEL_SCHEDULE: meta.name,
                naming.LABEL_TENANT: tenant,
                naming.LABEL_DRILL: "true",
            },
            "ownerReferences": [owner_reference(TENANT_BACKUP_SCHEDULE, meta)],
        },
        "spec": restore.wire(),
    }


def plan_drills(
    schedule: TenantBackupSchedule,
    runs: Sequence[Run],
    drills: Sequence[DrillRun],
    now: datetime,
) -> DrillPlan:
    """The drills to create and delete, per tenant; see the module docstring."""
    drill = schedule.spec.drill
    live = [one for one in drills if not one.deleting]
    by_tenant = _grouped(live)
    if drill is None:
        return DrillPlan(last={t: _newest(own).ref() for t, own in by_tenant.items() if own})
    period = Duration.parse(drill.period).fixed() if drill.period else None
    creates: list[Body] = []
    deletes: list[str] = []
    last: dict[str, RunRef] = {}
    wake_at: datetime | None = None
    succeeded = _succeeded_by_tenant(runs)
    for tenant in sorted(set(succeeded) | set(by_tenant)):
        own = by_tenant.get(tenant, [])
        newest = _newest(own) if own else None
        due, when = _due(succeeded.get(tenant, []), newest, own, drill.every, period, now)
        if when is not None:
            wake_at = min(wake_at, when) if wake_at else when
        if due is not None:
            creates.append(drill_manifest(schedule, tenant, due.name))
        finished = sorted((one for one in own if one.finished), key=lambda one: one.created)
        deletes.extend(one.name for one in finished[: max(0, len(finished) - drill.keep)])
        if newest is not None:
            last[tenant] = newest.ref()
    return DrillPlan(creates, deletes, last, wake_at)


def _due(
    succeeded: Sequence[Run],
    newest: DrillRun | None,
    own: Sequence[DrillRun],
    every: int | None,
    period: timedelta | None,
    now: datetime,
) -> tuple[Run | None, datetime | None]:
    """The run to drill now, if any; and when a period makes one due later."""
    if not succeeded or any(not one.finished for one in own):
        return None, None
    latest = max(succeeded, key=lambda run: run.time)
    drilled = {one.backup for one in own}
    if latest.name in drilled:
        return None, None
    if newest is None:
        return (latest, None) if every is None or len(succeeded) >= every else (None, None)
    if every is not None:
        since = [run for run in succeeded if run.time > newest.created]
        return (latest, None) if len(since) >= every else (None, None)
    next_time = newest.created + (period or timedelta(0))
    return (latest, None) if next_time <= now else (None, next_time)


def _succeeded_by_tenant(runs: Iterable[Run]) -> dict[str, list[Run]]:
    grouped: defaultdict[str, list[Run]] = defaultdict(list)
    for run in runs:
        if run.phase is Phase.SUCCEEDED and run.artifact and not run.deleting:
            grouped[run.tenant].append(run)
    return dict(grouped)


def _grouped(drills: Iterable[DrillRun]) -> dict[str, list[DrillRun]]:
    grouped: defaultdict[str, list[DrillRun]] = defaultdict(list)
    for one in drills:
        grouped[one.tenant].append(one)
    return dict(grouped)


def _newest(drills: Sequence[DrillRun]) -> DrillRun:
    return max(drills, key=lambda one: (one.created, one.name))
