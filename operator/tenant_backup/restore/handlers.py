"""Kopf registrations only: every trigger runs the same `drive` for the TenantRestore.

Triggers: creation and resume, any change of one of its Jobs, a wake-up when what it waits
for happens (its backoff ends, a slot frees, a status write lost a race), and a periodic
resync as the safety net: one sweep over the `restore_unsettled` index (unfinished restores,
and finished ones that still owe a follow-up), not a Kopf timer per object. Its slot entry
is in the `restore_slots` index, which the concurrency gate reads together with the backups'
(`runtime.slot_entries`).
"""

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import kopf

from tenant_backup import runtime
from tenant_backup.api.kinds import GROUP, TENANT_RESTORE, VERSION
from tenant_backup.api.restore import TenantRestore
from tenant_backup.core import followups, naming
from tenant_backup.core.keylocks import KeyLocks
from tenant_backup.core.scheduling import TERMINAL_PHASES, Entry, entry_of
from tenant_backup.core.waker import Waker
from tenant_backup.restore.drive import drive
from tenant_backup.restore.previous import drop_pending
from tenant_backup.restore.verified import mark_due

Key = tuple[str, str]
Unsettled = tuple[str, str, datetime | None]
"""A restore the resync visits, and the time before which it need not (its previous
schema's drop, when that is all it waits for)."""
SETTINGS = runtime.SETTINGS
PLURAL = TENANT_RESTORE.plural
log = logging.getLogger(__name__)
_locks: KeyLocks[Key] = KeyLocks()
_unsettled_index: list[kopf.Index[str, Unsettled]] = []
"""The live `restore_unsettled` index, kept from the first handler call for the resync."""


def _entry(body: kopf.Body) -> Entry | None:
    target_tenant = TenantRestore.from_body(body).target_tenant or ""
    return entry_of(body, target_tenant, TENANT_RESTORE.kind)


def _unsettled_keys() -> list[Key]:
    """The unsettled restores due a visit now. One waiting only for its previous schema's
    time is woken at that time (`drive` asks for it), not swept before."""
    now = datetime.now(UTC)
    found = runtime.index_values(_unsettled_index[0] if _unsettled_index else None)
    return [(ns, name) for ns, name, after in found if after is None or after <= now]


def _live(kwargs: dict[str, Any]) -> None:
    """From the first handler call on: keep the live indexes, and resync periodically (in a
    copy of this handler's context, which carries Kopf's, to post Events)."""
    runtime.remember_slot_indexes(kwargs)
    if not _unsettled_index and "restore_unsettled" in kwargs:
        _unsettled_index.append(kwargs["restore_unsettled"])
        WAKER.sweep(SETTINGS.resync_seconds, _unsettled_keys)


def _drive(namespace: str | None, name: str, kwargs: dict[str, Any]) -> None:
    """Reconcile one restore under its lock, and wake it again when it asked to be."""
    if namespace is None:
        raise kopf.PermanentError("TenantRestores and their Jobs are namespaced")
    _live(kwargs)
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
runtime.register_waker(TENANT_RESTORE.kind, WAKER.first)


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
    _live(kwargs)
    deleted = type == "DELETED"
    entry = None if deleted else _entry(body)
    if runtime.slot_released((TENANT_RESTORE.kind, namespace or "", name), entry, deleted=deleted):
        await asyncio.to_thread(runtime.wake_admissible)


def _unsettled_since(body: kopf.Body) -> tuple[bool, datetime | None]:
    """Whether the resync visits the restore (any not being deleted nor settled: unfinished,
    owing a follow-up, its verdict on the backup it verified, a previous schema's drop, or
    its settled label), and from when. Only finished restores are parsed whole; settled ones
    are out of Kopf's watch."""
    metadata = body.get("metadata", {})
    if metadata.get("deletionTimestamp") or naming.LABEL_SETTLED in (metadata.get("labels") or {}):
        return False, None
    if (body.get("status") or {}).get("phase") not in TERMINAL_PHASES:
        return True, None
    restore = TenantRestore.from_body(body)
    owing = followups.needs_resync(restore, SETTINGS.history_enabled) or mark_due(restore)
    if drop_pending(restore) and not owing:
        return True, restore.status.previous_kept_until
    return True, None  # owing, or to be labelled settled


def _unsettled(body: kopf.Body, **_: Any) -> bool:
    return _unsettled_since(body)[0]


@kopf.index(GROUP, VERSION, PLURAL, id="restore_unsettled")
async def restore_unsettled(
    namespace: str | None, name: str, body: kopf.Body, **_: Any
) -> dict[str, Unsettled]:
    """The restores the resync visits."""
    unsettled, after = _unsettled_since(body)
    return {"all": (namespace, name, after)} if namespace is not None and unsettled else {}


@kopf.on.resume(GROUP, VERSION, PLURAL, id="restore-resume", when=_unsettled)
@kopf.on.create(GROUP, VERSION, PLURAL, id="restore-create")
def on_restore(namespace: str | None, name: str, **kwargs: Any) -> None:
    """A new TenantRestore, or one found at start-up that the resync would visit."""
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
