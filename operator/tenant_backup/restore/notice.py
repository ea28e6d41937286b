"""Pure: what a restore's notification says, for people (email) and for programs (webhook
JSON)."""

from tenant_backup.api import kinds
from tenant_backup.api.restore import TenantRestore
from tenant_backup.core.notice import Notice, compact, human_duration, text_of


def notice_for(restore: TenantRestore) -> Notice:
    """The notice of a restore's final outcome."""
    meta, spec, status = restore.metadata, restore.spec, restore.status
    outcome = status.phase.value if status.phase else "Unknown"
    duration = (
        int((status.completion_time - status.start_time).total_seconds())
        if status.completion_time and status.start_time
        else None
    )
    source = status.source
    tenant = restore.target_tenant or "-"
    failed_checks = [check.name for check in status.checks if not check.passed]
    facts = {
        "apiVersion": f"{kinds.GROUP}/{kinds.VERSION}",
        "kind": "TenantRestoreNotification",
        "namespace": meta.namespace,
        "name": meta.name,
        "uid": meta.uid,
        "mode": spec.mode.value,
        "tenant": restore.target_tenant,
        "targetSchema": status.target_schema,
        "database": status.database,
        "sourceBackup": source.backup if source else None,
        "artifactUrl": source.url if source else None,
        "outcome": outcome,
        "reason": status.reason,
        "message": status.message,
        "step": status.step.value if status.step else None,
        "attempts": status.attempts,
        "tables": status.tables,
        "rows": status.rows,
        "previousSchema": status.previous_schema,
        "previousKeptUntil": status.previous_kept_until.isoformat()
        if status.previous_kept_until
        else None,
        "failedChecks": failed_checks,
        "startTime": status.start_time.isoformat() if status.start_time else None,
        "completionTime": status.completion_time.isoformat() if status.completion_time else None,
        "durationSeconds": duration,
    }
    lines = [
        ("Restore", f"{meta.namespace}/{meta.name}"),
        ("Mode", spec.mode.value),
        ("Tenant", tenant),
        ("Outcome", outcome),
        ("Reason", status.reason or "-"),
        ("Message", status.message or "-"),
        ("Source", (source.backup or source.url) if source else "-"),
        ("Into", f"{status.target_schema or '-'} in {status.database or '-'}"),
        ("Restored", f"{status.tables} tables, {status.rows} rows" if status.tables else "-"),
        ("Previous", status.previous_schema or "-"),
        ("Attempts", f"{status.attempts} of {status.max_attempts or spec.retry.max_attempts}"),
        ("Started", str(facts["startTime"] or "-")),
        ("Finished", str(facts["completionTime"] or "-")),
        ("Duration", human_duration(duration) if duration is not None else "-"),
        *([("Failed", ", ".join(failed_checks))] if failed_checks else []),
    ]
    return Notice(
        delivery_id=f"{meta.uid}.{outcome}",
        subject=f"[TenantRestore] {tenant} {spec.mode.value} {outcome}: "
        f"{meta.namespace}/{meta.name}",
        text=text_of(lines),
        payload=compact(facts),
    )
