"""Pure: the history rows a TenantBackup's status stands for."""

from dataclasses import asdict, dataclass
from datetime import datetime

from tenant_backup.api.attempts import AttemptOutcome, Phase
from tenant_backup.api.backup import TenantBackup
from tenant_backup.core.naming import job_name


@dataclass(frozen=True)
class Identity:
    """Which backup a row belongs to."""

    uid: str
    namespace: str
    name: str
    tenant: str


@dataclass(frozen=True)
class Produced:
    """What a successful attempt made, and with what."""

    artifact_url: str | None = None
    size_bytes: int | None = None
    sha256: str | None = None
    server_version: str | None = None
    pg_dump_version: str | None = None


@dataclass(frozen=True)
class BackupRow:
    """A TenantBackup's outcome (so far), keyed by uid."""

    identity: Identity
    produced: Produced
    phase: str
    reason: str | None
    message: str | None
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None

    def columns(self) -> dict[str, object]:
        """Column name to value."""
        return _flat(self)


@dataclass(frozen=True)
class AttemptRow:
    """One attempt, keyed by (uid, attempt)."""

    identity: Identity
    produced: Produced
    attempt: int
    job_name: str
    phase: str
    reason: str | None
    message: str | None
    retryable: bool | None
    started_at: datetime | None
    finished_at: datetime | None

    def columns(self) -> dict[str, object]:
        """Column name to value."""
        return _flat(self)


@dataclass(frozen=True)
class Rows:
    """Everything to upsert for one backup."""

    backup: BackupRow
    attempts: list[AttemptRow]


def rows_for(backup: TenantBackup) -> Rows:
    """The backup's row and one row per attempt started: finished ones from the attempt
    history (the artifact on the succeeded one), the running one as `Running`."""
    meta, status = backup.metadata, backup.status
    identity = Identity(meta.uid, meta.namespace, meta.name, backup.spec.tenant)
    artifact, source = status.artifact, status.source
    produced = Produced(
        artifact_url=artifact.url if artifact else None,
        size_bytes=artifact.size_bytes if artifact else None,
        sha256=artifact.sha256 if artifact else None,
        server_version=source.server_version if source else None,
        pg_dump_version=source.pg_dump_version if source else None,
    )
    attempts = [
        AttemptRow(
            identity=identity,
            produced=produced if record.outcome is AttemptOutcome.SUCCEEDED else Produced(),
            attempt=record.attempt,
            job_name=record.job_name,
            phase=record.outcome.value,
            reason=record.reason,
            message=record.message,
            retryable=record.retryable,
            started_at=record.start_time,
            finished_at=record.completion_time,
        )
        for record in status.attempt_history
    ]
    finished = {record.attempt for record in status.attempt_history}
    if status.phase is Phase.RUNNING and status.attempts and status.attempts not in finished:
        attempts.append(
            AttemptRow(
                identity=identity,
                produced=Produced(),
                attempt=status.attempts,
                job_name=status.job_name or job_name(meta.name, status.attempts),
                phase=Phase.RUNNING.value,
                reason=None,
                message=None,
                retryable=None,
                started_at=None,
                finished_at=None,
            )
        )
    backup_row = BackupRow(
        identity=identity,
        produced=produced,
        phase=(status.phase or Phase.PENDING).value,
        reason=status.reason,
        message=status.message,
        attempts=status.attempts,
        started_at=status.start_time,
        finished_at=status.completion_time,
    )
    return Rows(backup_row, attempts)


def _flat(row: BackupRow | AttemptRow) -> dict[str, object]:
    nested = asdict(row)
    flat: dict[str, object] = {**nested.pop("identity"), **nested.pop("produced"), **nested}
    return flat
