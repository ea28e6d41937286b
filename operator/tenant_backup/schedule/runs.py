"""Pure: a schedule's runs (its TenantBackups) as the schedule sees them, read straight from
watch bodies without building the whole model, and the manifest of a new run."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tenant_backup.api.attempts import ConditionType, Phase
from tenant_backup.api.backup import SizeCheck, TenantBackupSpec
from tenant_backup.api.kinds import API_VERSION, TENANT_BACKUP
from tenant_backup.api.schedule import RunRef, TenantBackupSchedule
from tenant_backup.core import naming
from tenant_backup.core.observe import parse_time
from tenant_backup.schedule.children import child_name

Body = dict[str, Any]


@dataclass(frozen=True)
class Run:
    """One TenantBackup of a schedule."""

    name: str
    tenant: str
    slot: datetime | None
    created: datetime
    phase: Phase | None
    completion: datetime | None
    artifact: str | None
    size_bytes: int | None
    flagged: bool
    """Its `SizeAnomaly` condition is True."""
    retained: bool
    """Labelled `tenantbackup.dev/retain=true`: never pruned."""
    deleting: bool

    @property
    def looks(self) -> tuple[object, ...]:
        """What of a run its schedule decides on: a change makes it decide again."""
        return self.phase, self.deleting, self.flagged, self.retained

    @property
    def finished(self) -> bool:
        """Succeeded or Failed."""
        return self.phase is not None and self.phase.terminal

    @property
    def time(self) -> datetime:
        """When it finished, or else when it was created."""
        return self.completion or self.created

    def ref(self) -> RunRef:
        """The run as the schedule's status shows it."""
        return RunRef(
            name=self.name,
            time=self.time,
            phase=self.phase,
            artifact=self.artifact,
            size_bytes=self.size_bytes,
            size_anomaly=self.flagged,
        )


def schedule_of(body: Mapping[str, Any]) -> str | None:
    """The schedule a TenantBackup belongs to, by its label."""
    labels = body.get("metadata", {}).get("labels") or {}
    value = labels.get(naming.LABEL_SCHEDULE)
    return value if isinstance(value, str) else None


def run_of(body: Mapping[str, Any]) -> Run:
    """A schedule's TenantBackup as a Run (`body` as the API server returns it)."""
    metadata = body["metadata"]
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    status = body.get("status") or {}
    artifact = status.get("artifact") or {}
    phase = status.get("phase")
    conditions = status.get("conditions") or []
    return Run(
        name=metadata["name"],
        tenant=body.get("spec", {}).get("tenant", ""),
        slot=parse_time(annotations.get(naming.ANNOTATION_SLOT)),
        created=datetime.fromisoformat(metadata["creationTimestamp"]),
        phase=Phase(phase) if phase in set(Phase) else None,
        completion=parse_time(status.get("completionTime")),
        artifact=artifact.get("url"),
        size_bytes=artifact.get("sizeBytes"),
        flagged=any(
            c.get("type") == ConditionType.SIZE_ANOMALY and c.get("status") == "True"
            for c in conditions
        ),
        retained=labels.get(naming.LABEL_RETAIN) == "true",
        deleting=metadata.get("deletionTimestamp") is not None,
    )


def run_manifest(
    schedule: TenantBackupSchedule, tenant: str, slot: datetime, previous: RunRef | None
) -> Body:
    """The TenantBackup of `tenant` for `slot`: labelled with the schedule and the tenant,
    carrying our artifact finalizer (retention deletes its artifact before it), and a size
    check against the tenant's previous successful run when there is one."""
    meta, spec = schedule.metadata, schedule.spec
    size_check = (
        SizeCheck(
            previous_backup=previous.name,
            previous_size_bytes=previous.size_bytes,
            min_size_ratio=spec.anomaly.min_size_ratio,
        )
        if previous is not None and previous.size_bytes
        else None
    )
    run_spec = TenantBackupSpec(**dict(spec.template), tenant=tenant, size_check=size_check)
    return {
        "apiVersion": API_VERSION,
        "kind": TENANT_BACKUP.kind,
        "metadata": {
            "name": child_name(meta.name, tenant, slot),
            "namespace": meta.namespace,
            "labels": {
                naming.LABEL_SCHEDULE: meta.name,
                naming.LABEL_TENANT: tenant,
            },
            "annotations": {naming.ANNOTATION_SLOT: slot.isoformat()},
            "finalizers": [naming.FINALIZER_ARTIFACT],
        },
        "spec": run_spec.wire(),
    }


def is_ours(body: Mapping[str, Any], schedule: str) -> bool:
    """Whether an existing object of a run's name is this schedule's run (adopt it), not a
    foreign one (never touch it)."""
    return schedule_of(body) == schedule
