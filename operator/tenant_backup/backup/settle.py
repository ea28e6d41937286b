"""After a status write: the follow-ups the backup still owes, done at the edge.

History rows are upserted and the state they hold is written to status; if the database is
down the condition says so and the resync (which visits a backup while follow-ups are
pending) tries again. Notifications are claimed in status (`Sending`) before they are sent
and their results written after, so each channel is sent at most once; see `followups`.
Every status write is conditional on the resourceVersion just read.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import psycopg

from tenant_backup.adapters.history import store
from tenant_backup.adapters.kube import Body, Kube
from tenant_backup.adapters.notify.deliver import deliver
from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.kinds import TENANT_BACKUP
from tenant_backup.backup import followups
from tenant_backup.backup.history_rows import rows_for
from tenant_backup.core.events import Event
from tenant_backup.settings import Settings

EventSink = Callable[[Body, Event], None]
Clock = Callable[[], datetime]
RESULT_WRITE_TRIES = 5
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Current:
    """The object as just read, raw (for Events) and parsed."""

    body: Body
    backup: TenantBackup


def settle(
    kube: Kube, settings: Settings, latest: TenantBackup, post_event: EventSink, clock: Clock
) -> None:
    """Do what `latest` (the status as last written) still owes; nothing if it owes nothing."""
    if not followups.pending(latest, settings.history_enabled):
        return
    current = _read(kube, latest)
    if current is not None and followups.history_due(current.backup, settings.history_enabled):
        current = _write(
            kube, current, _record_history(settings, current.backup, clock), post_event
        )
    if current is not None and followups.interrupted(current.backup):
        update = followups.mark_interrupted(current.backup, clock())
        current = _write(kube, current, update, post_event)
    if current is not None and followups.notifications_due(current.backup):
        _notify(kube, settings, current, post_event, clock)


def _record_history(settings: Settings, backup: TenantBackup, clock: Clock) -> followups.Update:
    try:
        store.record(settings, rows_for(backup))
    except psycopg.Error as error:
        reason = " ".join(str(error).split())
        meta = backup.metadata
        log.warning("history of %s/%s not recorded: %s", meta.namespace, meta.name, reason)
        return followups.history_failed(backup, reason, clock())
    return followups.history_recorded(backup, clock())


def _notify(
    kube: Kube, settings: Settings, current: Current, post_event: EventSink, clock: Clock
) -> None:
    due = followups.notifications_due(current.backup)
    claimed = _write(kube, current, followups.claimed(current.backup, due, clock()), post_event)
    if claimed is None:
        return  # somebody changed the backup: the next pass decides again, nothing was sent
    results = [deliver(kube, settings, claimed.backup, channel, clock) for channel in due]
    for _ in range(RESULT_WRITE_TRIES):
        update = followups.delivered(claimed.backup, results, clock())
        if _write(kube, claimed, update, post_event) is not None:
            return
        fresh = _read(kube, claimed.backup)
        if fresh is None:
            return
        claimed = fresh
    # Left `Sending`: a later pass marks it Interrupted; it is not sent again.


def _read(kube: Kube, backup: TenantBackup) -> Current | None:
    body = kube.get(TENANT_BACKUP, backup.metadata.namespace, backup.metadata.name)
    if body is None:
        return None
    fresh = TenantBackup.from_body(body)
    if fresh.metadata.uid != backup.metadata.uid or fresh.metadata.deletion_timestamp:
        return None
    return Current(body, fresh)


def _write(
    kube: Kube, current: Current, update: followups.Update, post_event: EventSink
) -> Current | None:
    """Write `update` if the object is unchanged since `current`; then post its Events and
    read the object again. None on a conflict or when it is gone."""
    meta = current.backup.metadata
    written = kube.write_status(
        TENANT_BACKUP,
        meta.namespace,
        meta.name,
        meta.resource_version or "",
        update.status.model_dump(mode="json", by_alias=True),
    )
    if not written:
        return None
    for event in update.events:
        post_event(current.body, event)
    return _read(kube, current.backup)
