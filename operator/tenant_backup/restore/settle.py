"""After a status write: the follow-ups the restore still owes (its history row,
notifications), done by `adapters.followups` as a backup's are."""

from tenant_backup.adapters import followups
from tenant_backup.adapters.history import restores as history
from tenant_backup.adapters.kube import Kube
from tenant_backup.adapters.passes import Clock, EventSink
from tenant_backup.api.kinds import TENANT_RESTORE
from tenant_backup.api.restore import TenantRestore
from tenant_backup.restore.history_rows import restore_row
from tenant_backup.restore.notice import notice_for
from tenant_backup.settings import Settings

FOLLOW_UPS = followups.FollowUps(
    kind=TENANT_RESTORE,
    parse=TenantRestore.from_body,
    record=lambda settings, restore: history.record(settings, restore_row(restore)),
    notice=notice_for,
)


def settle(
    kube: Kube, settings: Settings, latest: TenantRestore, post_event: EventSink, clock: Clock
) -> TenantRestore | None:
    """Do what `latest` (the status as last written) still owes; nothing if it owes nothing.
    The restore as it then stands if it owes nothing more, else None."""
    return followups.settle(kube, settings, FOLLOW_UPS, latest, post_event, clock)
