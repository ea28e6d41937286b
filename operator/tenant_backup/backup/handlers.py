"""Kopf registrations only: every trigger runs the same `drive` for the TenantBackup.

Triggers: a new backup (an event showing no phase yet) and each one listed at start-up, any
change of one of its Jobs (dump or prune), a wake-up when what it waits for happens (its
backoff ends, a slot frees, a status write lost a race), any event of a backup being deleted
that carries our finalizer, and a periodic resync as the safety net. Its slot entry is in the
`slots` index, which the concurrency gate reads together with the restores'
(`runtime.slot_entries`). A wake-up that fails is tried again after a resync interval: a
backup being deleted has no resync.

Memory and requests stay bounded by the work in flight: the resync is one sweep over the
`unsettled` index (no Kopf timer, which would keep a task and a copy of every backup's body
for as long as it exists) that skips backups waiting for a slot the gate would not give;
a Job event drives its backup only if it changed what `drive` reads of it; watch bodies
are read raw, with no model built; the indexes and the cheap event handlers are coroutines,
so that Kopf never queues them behind drives (a stale index would wake finished backups,
over and over); new backups are driven in a lane of their own (`ARRIVALS`), a key each; and
a settled backup is out of Kopf's watch altogether (the informer hands one being deleted
back, `hand_back_deleted`).
"""

import asyncio
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import kopf

from tenant_backup import runtime
from tenant_backup.adapters.informer import Change
from tenant_backup.adapters.kube import KubeError
from tenant_backup.api.kinds import GROUP, TENANT_BACKUP, VERSION
from tenant_backup.backup.drive import drive
from tenant_backup.core import naming
from tenant_backup.core.keylocks import KeyLocks
from tenant_backup.core.observe import observe_job
from tenant_backup.core.scheduling import Entry, State, entry_of
from tenant_backup.core.waker import Waker

Key = tuple[str, str]
SETTINGS = runtime.SETTINGS
PLURAL = TENANT_BACKUP.plural
log = logging.getLogger(__name__)
_locks: KeyLocks[Key] = KeyLocks()
_jobs_finished: dict[Key, bool] = {}
"""Whether each Job of ours was finished when last seen."""
_unsettled_index: list[kopf.Index[str, Key]] = []
"""The live `unsettled` index, kept from the first handler call for the resync."""


def _unsettled_keys() -> list[Key]:
    """The unsettled index's keys now."""
    return runtime.index_values(_unsettled_index[0] if _unsettled_index else None)


def _resync_keys() -> list[Key]:
    """The backups the periodic resync visits: every unsettled one, except those waiting for
    a slot that the gate would not admit now (a pass could only find them still waiting;
    a new one's create handler, retried by Kopf, drives it)."""
    snapshot = runtime.slot_snapshot()
    admissible = {entry.key for entry in runtime.GATE.admissible(snapshot)}
    waiting = {e.key for e in snapshot.entries if e.state is State.WAITING} - admissible
    return [key for key in _unsettled_keys() if (TENANT_BACKUP.kind, *key) not in waiting]


def _live(kwargs: dict[str, Any]) -> None:
    """From the first handler call on: keep the live indexes, and resync periodically (in
    a copy of this handler's context, which carries Kopf's, to post Events)."""
    runtime.remember_slot_indexes(kwargs)
    if not _unsettled_index:
        _unsettled_index.append(kwargs["unsettled"])
    WAKER.sweep(SETTINGS.resync_seconds, _resync_keys)


def _drive(namespace: str | None, name: str) -> None:
    """Reconcile one backup under its lock, and wake it again when it asked to be."""
    if namespace is None:
        raise kopf.PermanentError("TenantBackups and their Jobs are namespaced")
    with _locks[namespace, name]:
        wake_at = drive(
            runtime.kube(), SETTINGS, namespace, name, runtime.post_event, runtime.slots()
        )
    if wake_at is not None:
        WAKER.at((namespace, name), wake_at)


def _wake(key: Key) -> None:
    try:
        _drive(*key)
    except Exception:  # a wake-up must not kill its worker
        log.exception("waking TenantBackup %s/%s failed", *key)
        WAKER.at(key, datetime.now(UTC) + timedelta(seconds=SETTINGS.resync_seconds))


WAKER: Waker[Key] = Waker(_wake)
ARRIVALS: Waker[Key] = Waker(_wake)
"""The lane of new backups (and those found at start-up): a burst of thousands queues here,
a key each, while `WAKER` goes on driving the backups whose Jobs finished (freeing slots).
Not more workers: with eight, 5,000 new backups' Queued writes (40 a second) put Kopf's
event loop, and so the gate's index, over 30 s behind, and freed slots stayed empty."""
runtime.register_waker(TENANT_BACKUP.kind, WAKER.first)


@kopf.index(GROUP, VERSION, PLURAL, id="slots")
async def slots(body: kopf.Body, **_: Any) -> dict[str, Entry]:
    """Unfinished backups that hold or want a Job slot, for the concurrency gate."""
    entry = entry_of(body, body["spec"]["tenant"])
    return {"all": entry} if entry else {}


def _unsettled(body: kopf.Body) -> bool:
    """Not being deleted, nor labelled settled: unfinished, owing history or notifications
    (e.g. the history database was down), or finished and about to be labelled. Kopf sees
    no other backups: the settled ones are out of its watch."""
    metadata = body.get("metadata", {})
    return not metadata.get("deletionTimestamp") and naming.LABEL_SETTLED not in (
        metadata.get("labels") or {}
    )


@kopf.index(GROUP, VERSION, PLURAL, id="unsettled")
async def unsettled(namespace: str | None, name: str, body: kopf.Body, **_: Any) -> dict[str, Key]:
    """The backups the resync visits."""
    return {"all": (namespace, name)} if namespace is not None and _unsettled(body) else {}


@kopf.on.event(GROUP, VERSION, PLURAL, id="wake-queued")
async def wake_queued(
    type: str, namespace: str | None, name: str, body: kopf.Body, **kwargs: Any
) -> None:
    """A backup that held a slot and holds none now (finished, deleted, backing off) freed
    it: wake the queued backups and restores the gate would admit. The index already shows
    this event. In a thread of its own: it takes the gate's lock and reads thousands of entries."""
    _live(kwargs)
    deleted = type == "DELETED"
    entry = None if deleted else entry_of(body, body["spec"]["tenant"])
    if runtime.slot_released((TENANT_BACKUP.kind, namespace or "", name), entry, deleted=deleted):
        await asyncio.to_thread(runtime.wake_admissible)


def _arriving(type: str | None, body: kopf.Body, **_: Any) -> bool:
    """Whether an event brings a backup to the arrivals' lane: one never driven yet (no phase),
    or, in a listing (at start-up, or again after a broken watch), any the resync would visit
    (one being deleted has `finalize`; settled ones are not even listed)."""
    if type == "DELETED" or not _unsettled(body):
        return False
    return type is None or not (body.get("status") or {}).get("phase")


def hand_back_deleted(change: Change) -> None:
    """A settled backup being deleted, held by our finalizer: take its label off, so that it
    is back in Kopf's watch and `finalize` decides its artifact's fate. The leader does it;
    a failure is tried again."""
    metadata = (change.body or {}).get("metadata", {})
    if not (
        metadata.get("deletionTimestamp")
        and naming.LABEL_SETTLED in (metadata.get("labels") or {})
        and naming.FINALIZER_ARTIFACT in (metadata.get("finalizers") or [])
        and runtime.may_write()
    ):
        return
    try:
        runtime.kube().label(
            TENANT_BACKUP, change.namespace, change.name, {naming.LABEL_SETTLED: None}
        )
    except KubeError as error:
        log.warning(
            "handing TenantBackup %s/%s back for deletion failed: %s",
            change.namespace,
            change.name,
            error,
        )
        threading.Timer(SETTINGS.resync_seconds, hand_back_deleted, (change,)).start()


runtime.follow(TENANT_BACKUP, hand_back_deleted)


@kopf.on.event(GROUP, VERSION, PLURAL, id="arrive", when=_arriving)
async def on_backup(namespace: str | None, name: str, **kwargs: Any) -> None:
    """A new TenantBackup, or one found at start-up: driven in the arrivals' lane. An event
    handler, not Kopf's creation and resumption handlers, which write an annotation of their
    own on each object (a request, another event, a copy of the spec in every body). Not in
    Kopf's thread pool, whose backlog during a burst would hold every waiting backup's body,
    cause and patch; a failed pass is tried again by `_wake`."""
    if namespace is None:
        raise kopf.PermanentError("TenantBackups are namespaced")
    _live(kwargs)
    ARRIVALS.soon((namespace, name))


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
    _live(kwargs)
    try:
        _drive(namespace, name)
    except Exception:
        WAKER.at((namespace or "", name), datetime.now(UTC) + timedelta(seconds=1))
        raise


def _job_moved(type: str | None, key: Key, body: kopf.Body) -> bool:
    """Whether a Job event can move its backup on: the Job finished, or went unfinished. Not its
    appearing (the pass that created it recorded it; after a crash in between, `arrive`
    and the resync find it), nor its start or pod counts (`drive` reads a Job's start only
    once it finished), nor a Job first seen in the listing at start-up (`arrive` and
    `finalize` visit every backup that can move)."""
    if type == "DELETED":
        # A Job labelled settled leaves the watch as if deleted, and the event carries it as
        # it was before the label: only a Job that went unfinished moves its backup on (the
        # finish of one seen finished woke its backup then).
        return _jobs_finished.pop(key, None) is not True
    observed = observe_job(body, [])
    finished = observed is not None and observed.finish is not None
    known = _jobs_finished.get(key)
    _jobs_finished[key] = finished
    if type is None:  # listed: at start-up, or again after a broken watch
        return known is not None and known != finished
    return finished and known is not True


@kopf.on.event("batch", "v1", "jobs", labels={naming.LABEL_MANAGED_BY: naming.MANAGER})
async def on_job(
    type: str | None, namespace: str | None, name: str, labels: kopf.Labels, **kwargs: Any
) -> None:
    """A Job of ours changed: its TenantBackup may have moved on. It is woken in the waker's
    threads, not driven in Kopf's pool: there, a burst of new backups would hold a finished
    Job's backup (and the slot it frees) back until every one of them had been handled."""
    _live(kwargs)
    backup = labels.get(naming.LABEL_BACKUP)
    if backup and namespace and _job_moved(type, (namespace, name), kwargs["body"]):
        WAKER.soon((namespace, backup))
