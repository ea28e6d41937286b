"""After a status write: the follow-ups the backup still owes (history rows, notifications),
done by `adapters.followups`."""

from tenant_backup.adapters import followups
from tenant_backup.adapters.history import store
from tenant_backup.adapters.kube import Kube
from tenant_backup.adapters.passes import Clock, EventSink
from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.kinds import TENANT_BACKUP
from tenant_backup.backup.history_rows import rows_for
from tenant_backup.backup.notice import notice_for
from tenant_backup.settings import Settings

FOLLOW_UPS = followups.FollowUps(
    kind=TENANT_BACKUP,
    parse=TenantBackup.from_body,
    record=lambda settings, backup: store.record(settings, rows_for(backup)),
    notice=notice_for,
)


def settle(
    kube: Kube, settings: Settings, latest: TenantBackup, post_event: EventSink, clock: Clock
) -> TenantBackup | None:
    """Do what `latest` (the status as last written) still owes; nothing if it owes nothing.
    The backup as it then stands if it owes nothing more, else None."""
    return followups.settle(kube, settings, FOLLOW_UPS, latest, post_event, clock)
