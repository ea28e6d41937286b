"""After a status write: the follow-ups an object (a TenantBackup, a TenantRestore) still
owes, done at the edge.

History rows are upserted and the state they hold is written to status; if the database is
down the condition says so and the resync (which visits an object while follow-ups are
pending) tries again. Notifications are claimed in status (`Sending`) before they are sent
and their results written after, so each channel is sent at most once; see
`core.followups`. Every status write is conditional on the resourceVersion just read.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import psycopg

from tenant_backup.adapters.kube import Body, Kube
from tenant_backup.adapters.notify.deliver import deliver
from tenant_backup.adapters.passes import Clock, EventSink
from tenant_backup.api.kinds import Kind
from tenant_backup.api.notifications import FollowUpStatus
from tenant_backup.core import followups
from tenant_backup.core.notice import Notice
from tenant_backup.settings import Settings

RESULT_WRITE_TRIES = 5
log = logging.getLogger(__name__)


T = TypeVar("T", bound=followups.Owing[FollowUpStatus])


@dataclass(frozen=True)
class FollowUps(Generic[T]):
    """How one kind's follow-ups are done."""

    kind: Kind
    parse: Callable[[Body], T]
    record: Callable[[Settings, T], None]
    """Upsert its history rows (raises psycopg.Error when the database is down)."""
    notice: Callable[[T], Notice]


@dataclass(frozen=True)
class Current(Generic[T]):
    """The object as just read, raw (for Events) and parsed."""

    body: Body
    subject: T


def settle(
    kube: Kube,
    settings: Settings,
    kind: FollowUps[T],
    latest: T,
    post_event: EventSink,
    clock: Clock,
) -> T | None:
    """Do what `latest` (the status as last written) still owes; nothing if it owes nothing.
    The object as it then stands when it owes nothing more; None when it still does (the
    history database is down), or it changed or went meanwhile."""
    if not followups.pending(latest, settings.history_enabled):
        return latest
    current = _read(kube, kind, latest)
    if current is not None and followups.history_due(current.subject, settings.history_enabled):
        update = _record_history(settings, kind, current.subject, clock)
        current = _write(kube, kind, current, update, post_event)
    if current is not None and followups.interrupted(current.subject):
        update = followups.mark_interrupted(current.subject, clock())
        current = _write(kube, kind, current, update, post_event)
    if current is not None and followups.notifications_due(current.subject):
        current = _notify(kube, settings, kind, current, post_event, clock)
    if current is None or followups.pending(current.subject, settings.history_enabled):
        return None
    return current.subject


def _record_history(
    settings: Settings, kind: FollowUps[T], subject: T, clock: Clock
) -> followups.Update[FollowUpStatus]:
    try:
        kind.record(settings, subject)
    except psycopg.Error as error:
        reason = " ".join(str(error).split())
        meta = subject.metadata
        log.warning(
            "history of %s %s/%s not recorded: %s",
            kind.kind.kind,
            meta.namespace,
            meta.name,
            reason,
        )
        return followups.history_failed(subject, reason, clock())
    return followups.history_recorded(subject, clock())


def _notify(
    kube: Kube,
    settings: Settings,
    kind: FollowUps[T],
    current: Current[T],
    post_event: EventSink,
    clock: Clock,
) -> Current[T] | None:
    """Send what is due, recorded before (claimed) and after; the object as last written
    (None: not written, or changed meanwhile)."""
    due = followups.notifications_due(current.subject)
    update = followups.claimed(current.subject, due, clock())
    claimed = _write(kube, kind, current, update, post_event)
    if claimed is None:
        return None  # somebody changed the object: the next pass decides again, nothing sent
    subject = claimed.subject
    notice = kind.notice(subject)
    namespace = subject.metadata.namespace
    results = [
        deliver(kube, settings, namespace, subject.notifications, notice, channel, clock)
        for channel in due
    ]
    for _ in range(RESULT_WRITE_TRIES):
        update = followups.delivered(claimed.subject, results, clock())
        written = _write(kube, kind, claimed, update, post_event)
        if written is not None:
            return written
        fresh = _read(kube, kind, claimed.subject)
        if fresh is None:
            return None
        claimed = fresh
    return None  # left `Sending`: a later pass marks it Interrupted; it is not sent again


def _read(kube: Kube, kind: FollowUps[T], subject: T) -> Current[T] | None:
    meta = subject.metadata
    body = kube.get(kind.kind, meta.namespace, meta.name)
    if body is None:
        return None
    fresh = kind.parse(body)
    if fresh.metadata.uid != meta.uid or fresh.metadata.deletion_timestamp:
        return None
    return Current(body, fresh)


def _write(
    kube: Kube,
    kind: FollowUps[T],
    current: Current[T],
    update: followups.Update[FollowUpStatus],
    post_event: EventSink,
) -> Current[T] | None:
    """Write `update` if the object is unchanged since `current`; then post its Events and
    read the object again. None on a conflict or when it is gone."""
    meta = current.subject.metadata
    written = kube.write_status(kind.kind, meta, update.status)
    if not written:
        return None
    for event in update.events:
        post_event(current.body, event)
    return _read(kube, kind, current.subject)
