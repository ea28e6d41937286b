"""Pure: Replace restores running, as the schedules see them: a schedule's runs of a tenant
being replaced skip their slot, and the restore lists the schedules it pauses."""

from collections.abc import Iterable
from dataclasses import dataclass

from tenant_backup.api.attempts import Phase
from tenant_backup.api.restore import Mode, TenantRestore
from tenant_backup.api.schedule import EVERY_TENANT, TenantBackupSchedule


@dataclass(frozen=True)
class Replacing:
    """A Replace restore that has started (or waits to start) on a known server."""

    namespace: str
    name: str
    server: str
    tenant: str


def replacing_of(restore: TenantRestore) -> Replacing | None:
    """The restore as a schedule sees it; None unless it is a Replace whose server and
    tenant are known and that has not finished."""
    status, metadata = restore.status, restore.metadata
    tenant = restore.target_tenant
    if (
        restore.spec.mode is not Mode.REPLACE
        or status.phase in (None, Phase.SUCCEEDED, Phase.FAILED)
        or metadata.deletion_timestamp is not None
        or status.database_server is None
        or tenant is None
    ):
        return None
    return Replacing(metadata.namespace, metadata.name, status.database_server, tenant)


def busy_tenants(server: str | None, replacing: Iterable[Replacing]) -> dict[str, str]:
    """The tenants of `server` being replaced, each with the restore doing it
    (`namespace/name`)."""
    return {
        entry.tenant: f"{entry.namespace}/{entry.name}"
        for entry in sorted(replacing, key=lambda entry: (entry.namespace, entry.name))
        if server is not None and entry.server == server
    }


def covers(schedule: TenantBackupSchedule, tenant: str) -> bool:
    """Whether the schedule backs up `tenant` (listed, or every tenant of its database)."""
    return schedule.spec.tenants == [EVERY_TENANT] or tenant in schedule.spec.tenants
