"""Kopf registrations only: every trigger runs the same `drive` for the TenantBackup.

Triggers: creation and resume, any change of one of its Jobs (dump or prune), a wake-up
when what it waits for happens (its backoff ends, a slot frees, a status write lost a race),
any event of a backup being deleted that carries our finalizer (Kopf stops timers then), and
a periodic resync as the safety net. A wake-up that fails is tried again after a resync
interval: a backup being deleted has no resync.
"""

import logging
import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import kopf

from tenant_backup import runtime
from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.kinds import GROUP, TENANT_BACKUP, VERSION
from tenant_backup.backup import followups
from tenant_backup.backup.drive import drive
from tenant_backup.core import naming
from tenant_backup.core.scheduling import Entry, State, entry_of
from tenant_backup.core.waker import Waker

Key = tuple[str, str]
SETTINGS = runtime.SETTINGS
PLURAL = TENANT_BACKUP.plural
log = logging.getLogger(__name__)
_locks: defaultdict[Key, threading.Lock] = defaultdict(threading.Lock)


def _drive(namespace: str | None, name: str, kwargs: dict[str, Any]) -> None:
    """Reconcile one backup under its lock, and wake it again when it asked to be."""
    if namespace is None:
        raise kopf.PermanentError("TenantBackups and their Jobs are namespaced")
    runtime.remember_slot_indexes(kwargs)
    with _locks[namespace, name]:
        wake_at = drive(
            runtime.kube(), SETTINGS, namespace, name, runtime.post_event, runtime.slots()
        )
    if wake_at is not None:
        WAKER.at((namespace, name), wake_at)


def _wake(key: Key) -> None:
    try:
        _drive(*key, {})
    except Exception:  # a wake-up must not kill its worker
        log.exception("waking TenantBackup %s/%s failed", *key)
        WAKER.at(key, datetime.now(UTC) + timedelta(seconds=SETTINGS.resync_seconds))


WAKER: Waker[Key] = Waker(_wake)
runtime.register_waker(TENANT_BACKUP.kind, WAKER.soon)


@kopf.index(GROUP, VERSION, PLURAL, id="slots")
def slots(body: kopf.Body, **_: Any) -> dict[str, Entry]:
    """Unfinished backups that hold or want a Job slot, for the concurrency gate."""
    entry = entry_of(TenantBackup.from_body(body))
    return {"all": entry} if entry else {}


@kopf.on.event(GROUP, VERSION, PLURAL, id="wake-queued")
def wake_queued(type: str, body: kopf.Body, **kwargs: Any) -> None:
    """A backup that holds no slot now (finished, deleted, backing off) may have freed one:
    wake the queued backups and restores the gate would admit. The index already shows this
    event."""
    runtime.remember_slot_indexes(kwargs)
    if type != "DELETED":
        entry = entry_of(TenantBackup.from_body(body))
        if entry is not None and entry.state is State.ACTIVE:
            return
    runtime.wake_admissible()


def _resync_wanted(body: kopf.Body, **_: Any) -> bool:
    """Unfinished, or owing history or notifications (e.g. the history database was down)."""
    return followups.needs_resync(TenantBackup.from_body(body), SETTINGS.history_enabled)


@kopf.on.resume(GROUP, VERSION, PLURAL, id="resume")
@kopf.on.create(GROUP, VERSION, PLURAL, id="create")
def on_backup(namespace: str | None, name: str, **kwargs: Any) -> None:
    """A new TenantBackup, or one found at start-up."""
    _drive(namespace, name, kwargs)


@kopf.timer(
    GROUP, VERSION, PLURAL, id="resync", interval=SETTINGS.resync_seconds, when=_resync_wanted
)
def resync(namespace: str | None, name: str, **kwargs: Any) -> None:
    """Safety net and follow-up retries: re-derive unfinished backups periodically."""
    _drive(namespace, name, kwargs)


def _being_finalized(body: kopf.Body, **_: Any) -> bool:
    """Being deleted, and held by our finalizer until its artifact's fate is known."""
    metadata = body.get("metadata", {})
    return bool(metadata.get("deletionTimestamp")) and naming.FINALIZER_ARTIFACT in (
        metadata.get("finalizers") or []
    )


@kopf.on.event(GROUP, VERSION, PLURAL, id="finalize", when=_being_finalized)
def on_deleting(namespace: str | None, name: str, **kwargs: Any) -> None:
    """A backup being deleted (and at start-up, each one found): decide its artifact's fate.
    Failures are retried by a wake-up, as Kopf does not retry event handlers."""
    try:
        _drive(namespace, name, kwargs)
    except Exception:
        WAKER.at((namespace or "", name), datetime.now(UTC) + timedelta(seconds=1))
        raise


@kopf.on.event("batch", "v1", "jobs", labels={naming.LABEL_MANAGED_BY: naming.MANAGER})
def on_job(namespace: str | None, labels: kopf.Labels, **kwargs: Any) -> None:
    """A Job of ours changed: its TenantBackup may have moved on."""
    backup = labels.get(naming.LABEL_BACKUP)
    if backup:
        _drive(namespace, backup, kwargs)
