"""Kopf registrations only: every trigger runs the same `drive` for the TenantRestore.

Triggers: creation and resume, any change of one of its Jobs, a wake-up when what it waits
for happens (its backoff ends, a slot frees, a status write lost a race), and a periodic
resync as the safety net. Its slot entry is in the `restore_slots` index, which the
concurrency gate reads together with the backups' (`runtime.slot_entries`).
"""

import asyncio
import logging
import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import kopf

from tenant_backup import runtime
from tenant_backup.api.kinds import GROUP, TENANT_RESTORE, VERSION
from tenant_backup.api.restore import TenantRestore
from tenant_backup.core import naming
from tenant_backup.core.scheduling import Entry, entry_of
from tenant_backup.core.waker import Waker
from tenant_backup.restore.drive import drive

Key = tuple[str, str]
SETTINGS = runtime.SETTINGS
PLURAL = TENANT_RESTORE.plural
log = logging.getLogger(__name__)
_locks: defaultdict[Key, threading.Lock] = defaultdict(threading.Lock)


def _entry(body: kopf.Body) -> Entry | None:
    target_tenant = TenantRestore.from_body(body).target_tenant or ""
    return entry_of(body, target_tenant, TENANT_RESTORE.kind)


def _drive(namespace: str | None, name: str, kwargs: dict[str, Any]) -> None:
    """Reconcile one restore under its lock, and wake it again when it asked to be."""
    if namespace is None:
        raise kopf.PermanentError("TenantRestores and their Jobs are namespaced")
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
        log.exception("waking TenantRestore %s/%s failed", *key)
        WAKER.at(key, datetime.now(UTC) + timedelta(seconds=SETTINGS.resync_seconds))


WAKER: Waker[Key] = Waker(_wake)
runtime.register_waker(TENANT_RESTORE.kind, WAKER.soon)


@kopf.index(GROUP, VERSION, PLURAL, id="restore_slots")
async def restore_slots(body: kopf.Body, **_: Any) -> dict[str, Entry]:
    """Unfinished restores that hold or want a Job slot, for the concurrency gate."""
    entry = _entry(body)
    return {"all": entry} if entry else {}


@kopf.on.event(GROUP, VERSION, PLURAL, id="restore-wake-queued")
async def wake_queued(
    type: str, namespace: str | None, name: str, body: kopf.Body, **kwargs: Any
) -> None:
    """A restore that held a slot and holds none now freed it: wake the queued backups and
    restores the gate would admit."""
    runtime.remember_slot_indexes(kwargs)
    entry = None if type == "DELETED" else _entry(body)
    if runtime.slot_released((TENANT_RESTORE.kind, namespace or "", name), entry):
        await asyncio.to_thread(runtime.wake_admissible)


def _unfinished(body: kopf.Body, **_: Any) -> bool:
    return not TenantRestore.from_body(body).status.finished


@kopf.on.resume(GROUP, VERSION, PLURAL, id="restore-resume")
@kopf.on.create(GROUP, VERSION, PLURAL, id="restore-create")
def on_restore(namespace: str | None, name: str, **kwargs: Any) -> None:
    """A new TenantRestore, or one found at start-up."""
    _drive(namespace, name, kwargs)


@kopf.timer(
    GROUP, VERSION, PLURAL, id="restore-resync", interval=SETTINGS.resync_seconds, when=_unfinished
)
def resync(namespace: str | None, name: str, **kwargs: Any) -> None:
    """Safety net: re-derive unfinished restores periodically."""
    _drive(namespace, name, kwargs)


@kopf.on.event(
    "batch",
    "v1",
    "jobs",
    labels={naming.LABEL_MANAGED_BY: naming.MANAGER, naming.LABEL_RESTORE: kopf.PRESENT},
    id="restore-job",
)
def on_job(namespace: str | None, labels: kopf.Labels, **kwargs: Any) -> None:
    """A restore Job changed: its TenantRestore may have moved on."""
    _drive(namespace, labels[naming.LABEL_RESTORE], kwargs)
