"""Pure: what a backup's notification says, for people (email) and for programs (webhook
JSON)."""

from tenant_backup.api import kinds
from tenant_backup.api.attempts import ConditionType
from tenant_backup.api.backup import TenantBackup
from tenant_backup.core.notice import Notice, compact, human_duration, text_of


def notice_for(backup: TenantBackup) -> Notice:
    """The notice of a backup's final outcome."""
    meta, spec, status = backup.metadata, backup.spec, backup.status
    outcome = status.phase.value if status.phase else "Unknown"
    duration = (
        int((status.completion_time - status.start_time).total_seconds())
        if status.completion_time and status.start_time
        else None
    )
    artifact = status.artifact
    anomaly = next(
        (
            c.message
            for c in status.conditions
            if c.type is ConditionType.SIZE_ANOMALY and c.status == "True"
        ),
        None,
    )
    facts = {
        "apiVersion": f"{kinds.GROUP}/{kinds.VERSION}",
        "kind": "TenantBackupNotification",
        "namespace": meta.namespace,
        "name": meta.name,
        "uid": meta.uid,
        "tenant": spec.tenant,
        "outcome": outcome,
        "reason": status.reason,
        "message": status.message,
        "attempts": status.attempts,
        "artifact": artifact.wire() if artifact else None,
        "startTime": status.start_time.isoformat() if status.start_time else None,
        "completionTime": status.completion_time.isoformat() if status.completion_time else None,
        "durationSeconds": duration,
        "sizeAnomaly": anomaly,
    }
    lines = [
        ("Backup", f"{meta.namespace}/{meta.name}"),
        ("Tenant", spec.tenant),
        ("Outcome", outcome),
        ("Reason", status.reason or "-"),
        ("Message", status.message or "-"),
        ("Artifact", artifact.url if artifact else "-"),
        ("Size", f"{artifact.size} ({artifact.size_bytes} bytes)" if artifact else "-"),
        ("SHA-256", artifact.sha256 if artifact else "-"),
        ("Attempts", f"{status.attempts} of {status.max_attempts or spec.retry.max_attempts}"),
        ("Started", str(facts["startTime"] or "-")),
        ("Finished", str(facts["completionTime"] or "-")),
        ("Duration", human_duration(duration) if duration is not None else "-"),
        *([("Warning", f"size anomaly: {anomaly}")] if anomaly else []),
    ]
    flag = " (size anomaly)" if anomaly else ""
    return Notice(
        delivery_id=f"{meta.uid}.{outcome}",
        subject=f"[TenantBackup] {spec.tenant} {outcome}{flag}: {meta.namespace}/{meta.name}",
        text=text_of(lines),
        payload=compact(facts),
    )
