"""Pure: the artifact a restore reads, from its spec and the TenantBackups of its namespace
(never another's): a named Succeeded backup, a schedule's newest Succeeded run of a tenant,
or an artifact named by URL."""

from collections.abc import Iterable

from tenant_backup.api.attempts import Phase
from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.restore import ResolvedSource, RestoreSource


def from_backup(backup: TenantBackup | None, name: str) -> ResolvedSource | str:
    """The artifact of TenantBackup `name`, or why it cannot be restored."""
    if backup is None:
        return f"TenantBackup {name} not found in this namespace"
    artifact = backup.status.artifact
    if backup.status.phase is not Phase.SUCCEEDED or artifact is None:
        phase = backup.status.phase.value if backup.status.phase else "new"
        return f"TenantBackup {name} is {phase}, not Succeeded: it has no artifact to restore"
    if backup.metadata.deletion_timestamp is not None:
        return f"TenantBackup {name} is being deleted"
    return ResolvedSource(
        backup=name,
        tenant=backup.spec.tenant,
        url=artifact.url,
        sha256=artifact.sha256,
        format=artifact.format,
        compression=artifact.compression,
        size_bytes=artifact.size_bytes,
        destination=backup.spec.destination,
    )


def newest_run(runs: Iterable[TenantBackup], tenant: str) -> TenantBackup | None:
    """The newest Succeeded run of `tenant` (by completion), not being deleted."""
    succeeded = [
        run
        for run in runs
        if run.spec.tenant == tenant
        and run.status.phase is Phase.SUCCEEDED
        and run.status.artifact is not None
        and run.metadata.deletion_timestamp is None
    ]
    return max(
        succeeded,
        key=lambda run: (
            run.status.completion_time or run.metadata.creation_timestamp,
            run.metadata.creation_timestamp,
        ),
        default=None,
    )


def from_artifact(source: RestoreSource) -> ResolvedSource | None:
    """The spec's artifact source as resolved, if it names one."""
    artifact = source.artifact
    if artifact is None:
        return None
    return ResolvedSource(
        tenant=artifact.tenant,
        url=artifact.url,
        sha256=artifact.sha256,
        format=artifact.format,
        compression=artifact.compression,
        size_bytes=artifact.size_bytes,
        destination=artifact.destination,
    )
