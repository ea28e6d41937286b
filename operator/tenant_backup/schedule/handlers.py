"""Kopf registrations only: every trigger runs the same `drive` for the schedule.

Triggers: creation, resume and spec changes; a wake-up at the next slot or tenant offset; a
change of one of its runs (finished, deleted); and a periodic resync as the safety net: one
sweep over the `schedules` index, not a Kopf timer (a task and a copy of the body per
schedule). Its runs and drills are kept from the informers (a few fields each, settled ones
too, which Kopf does not watch), so a pass lists nothing; none is driven before the informers
have delivered every TenantBackup and TenantRestore present at start-up.
"""

import contextvars
import logging
from collections.abc import Callable
from typing import Any

import kopf

from tenant_backup import runtime
from tenant_backup.adapters.informer import Change
from tenant_backup.api.kinds import (
    GROUP,
    TENANT_BACKUP,
    TENANT_BACKUP_SCHEDULE,
    TENANT_RESTORE,
    VERSION,
)
from tenant_backup.api.restore import TenantRestore
from tenant_backup.core.keylocks import KeyLocks
from tenant_backup.core.restoring import Replacing, replacing_of
from tenant_backup.core.waker import Waker
from tenant_backup.schedule.book import Book
from tenant_backup.schedule.drills import drill_of
from tenant_backup.schedule.drive import drive
from tenant_backup.schedule.runs import Run, run_of

Key = tuple[str, str]
SETTINGS = runtime.SETTINGS
PLURAL = TENANT_BACKUP_SCHEDULE.plural
log = logging.getLogger(__name__)
_locks: KeyLocks[Key] = KeyLocks()
LISTING_WAIT_SECONDS = 30
LISTED = (TENANT_BACKUP, TENANT_RESTORE)
_indexes: dict[str, kopf.Index[Any, Any]] = {}
"""The live `schedules` and `replacing_restores` indexes, kept from the first handler call
for the wake-ups and the resync."""
RUNS = Book(run_of)
DRILLS = Book(drill_of)
_kopf_context: list[contextvars.Context] = []
"""A Kopf handler's context (for our Events), kept from the first handler call: the
informer's wake-ups run in copies of it."""


def _runs(key: Key) -> list[Run]:
    """The schedule's runs now."""
    return RUNS.of(key)


def _copied(index: str, key: Any) -> list[Any]:
    """An index's values under `key` now."""
    return runtime.index_values(_indexes.get(index), key)


def _live(kwargs: dict[str, Any]) -> None:
    """From the first handler call on: keep the live indexes, and resync every schedule
    periodically (in a copy of this handler's context, which carries Kopf's)."""
    if "schedules" not in _indexes:
        _kopf_context.append(contextvars.copy_context())
        _indexes.update(
            schedules=kwargs["schedules"],
            replacing_restores=kwargs["replacing_restores"],
        )
    WAKER.sweep(SETTINGS.resync_seconds * 4, lambda: _copied("schedules", "all"))


def _drive(namespace: str | None, name: str) -> None:
    """Reconcile one schedule under its lock, and wake it again when it asked to be."""
    if namespace is None:
        raise kopf.PermanentError("TenantBackupSchedules are namespaced")
    key = (namespace, name)
    if not all(runtime.listed(kind, LISTING_WAIT_SECONDS) for kind in LISTED):
        raise kopf.TemporaryError("its runs and drills are still being listed", delay=5)
    with _locks[key]:
        wake_at = drive(
            runtime.kube(),
            SETTINGS,
            namespace,
            name,
            runtime.post_event,
            _runs(key),
            replacing=_copied("replacing_restores", "all"),
            drills=DRILLS.of(key),
        )
    if wake_at is not None:
        WAKER.at(key, wake_at)


def _wake(key: Key) -> None:
    try:
        _drive(*key)
    except Exception:  # a wake-up must not kill its worker; the resync tries again
        log.exception("waking TenantBackupSchedule %s/%s failed", *key)


WAKER: Waker[Key] = Waker(_wake)


def _recorder(book: Book[Any]) -> Callable[[Change], None]:
    """Keep `book` up to date with an informer's changes; wake the schedule a change
    concerns. Before any schedule was handled, none is woken: each is resumed, after the
    listing, anyway."""

    def changed(change: Change) -> None:
        body = None if change.type == "DELETED" else change.body
        schedule = book.record(change.namespace, change.name, body)
        if schedule is not None and _kopf_context:
            _kopf_context[0].copy().run(WAKER.soon, schedule)

    return changed


# A run appeared, finished, was flagged, is being deleted or is gone (retention, the next
# run's size check, Forbid); a drill finished or is gone (the next drill, retention).
runtime.follow(TENANT_BACKUP, _recorder(RUNS))
runtime.follow(TENANT_RESTORE, _recorder(DRILLS))


@kopf.index(GROUP, VERSION, TENANT_RESTORE.plural, id="replacing_restores")
async def replacing_restores(body: kopf.Body, **_: Any) -> dict[str, Replacing]:
    """The Replace restores running, whose tenants' runs skip their slots."""
    entry = replacing_of(TenantRestore.from_body(body))
    return {"all": entry} if entry else {}


@kopf.index(GROUP, VERSION, PLURAL, id="schedules")
async def schedules(namespace: str | None, name: str, **_: Any) -> dict[str, Key]:
    """Every schedule, for the resync."""
    return {"all": (namespace, name)} if namespace is not None else {}


@kopf.on.resume(GROUP, VERSION, PLURAL, id="schedule-resume")
@kopf.on.create(GROUP, VERSION, PLURAL, id="schedule-create")
@kopf.on.update(GROUP, VERSION, PLURAL, id="schedule-update")
def on_schedule(namespace: str | None, name: str, **kwargs: Any) -> None:
    """A new or changed schedule, or one found at start-up."""
    _live(kwargs)
    _drive(namespace, name)
