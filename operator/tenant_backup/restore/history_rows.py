"""Pure: the history row a TenantRestore's status stands for."""

from dataclasses import asdict, dataclass
from datetime import datetime

from tenant_backup.api.attempts import Phase
from tenant_backup.api.restore import TenantRestore


@dataclass(frozen=True)
class RestoreRow:
    """A TenantRestore's outcome (so far), keyed by uid."""

    uid: str
    namespace: str
    name: str
    mode: str
    source_backup: str | None
    source_tenant: str | None
    artifact_url: str | None
    sha256: str | None
    target_tenant: str | None
    target_schema: str | None
    database: str | None
    phase: str
    reason: str | None
    message: str | None
    attempts: int
    step: str | None
    tables: int | None
    rows: int | None
    previous_schema: str | None
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: int | None

    def columns(self) -> dict[str, object]:
        """Column name to value."""
        return asdict(self)


def restore_row(restore: TenantRestore) -> RestoreRow:
    """The restore's row: what it restored from, into what, and how it went."""
    meta, status = restore.metadata, restore.status
    source = status.source
    started, finished = status.start_time, status.completion_time
    return RestoreRow(
        uid=meta.uid,
        namespace=meta.namespace,
        name=meta.name,
        mode=restore.spec.mode.value,
        source_backup=source.backup if source else None,
        source_tenant=source.tenant if source else None,
        artifact_url=source.url if source else None,
        sha256=source.sha256 if source else None,
        target_tenant=restore.target_tenant,
        target_schema=status.target_schema,
        database=status.database,
        phase=(status.phase or Phase.PENDING).value,
        reason=status.reason,
        message=status.message,
        attempts=status.attempts,
        step=status.step.value if status.step else None,
        tables=status.tables,
        rows=status.rows,
        previous_schema=status.previous_schema,
        started_at=started,
        finished_at=finished,
        duration_seconds=int((finished - started).total_seconds())
        if started and finished
        else None,
    )
