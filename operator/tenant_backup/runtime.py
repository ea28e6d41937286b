"""The operator process's wiring shared by every kind's registrations: Kopf's settings,
the one Kubernetes client, posting our Events, the fence of leader election, the informers
following every TenantBackup and TenantRestore (Kopf watches only the unsettled ones), and the
concurrency gate every kind that runs Jobs takes its slots from (its Kopf indexes, and how to
wake each kind's queued objects)."""

import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, cast

import kopf
from kubernetes import client, config

from tenant_backup.adapters.informer import Informer, Subscriber
from tenant_backup.adapters.kube import Body, Kube
from tenant_backup.api.kinds import GROUP, TENANT_BACKUP, TENANT_RESTORE, Kind
from tenant_backup.core import naming
from tenant_backup.core.events import Event
from tenant_backup.core.gate import Gate, Slots, Snapshot
from tenant_backup.core.scheduling import Entry, Limits, State
from tenant_backup.settings import Settings

SETTINGS = Settings.from_env()
log = logging.getLogger(__name__)
COMPONENT = "tenant-backup-operator"
API_CONNECTIONS = 32
_kube: list[Kube] = []
_may_write: list[Callable[[], bool]] = [lambda: True]
_served: list[str] = []
"""The namespaces (or glob patterns) served; none: every namespace."""
_subscribers: dict[Kind, list[Subscriber]] = {TENANT_BACKUP: [], TENANT_RESTORE: []}
"""By kind: who follows every object of it (informers, Kopf watching only the unsettled)."""
_informers: dict[Kind, Informer] = {}


def serve(namespaces: list[str]) -> None:
    """The namespaces (or patterns) the operator serves, as Kopf is told (none: all)."""
    _served[:] = namespaces


def follow(kind: Kind, subscriber: Subscriber) -> None:
    """Call `subscriber` with every change of every object of `kind` (TenantBackup,
    TenantRestore) served, settled or not, from start-up on (in its informer's thread)."""
    _subscribers[kind].append(subscriber)


def listed(kind: Kind, timeout: float) -> bool:
    """Whether the informer of `kind` delivered every object present at start-up (within
    `timeout` seconds): until then, what it has delivered is incomplete."""
    return kind in _informers and _informers[kind].wait_synced(timeout)


def fence(may_write: Callable[[], bool]) -> None:
    """Send our writes and Events only while `may_write()` (set before Kopf starts)."""
    _may_write[0] = may_write


def may_write() -> bool:
    """Whether this replica may act now (always, without leader election)."""
    return _may_write[0]()


GATE = Gate(Limits(SETTINGS.max_running_jobs, SETTINGS.max_running_jobs_per_server))
SLOT_INDEXES = ("slots", "restore_slots")
"""The ids of the Kopf indexes of each kind's slot entries (`{"all": Entry}`): Kopf passes
every index to every handler, under its id."""
INDEX_COPY_TRIES = 5
_slot_indexes: dict[str, kopf.Index[str, Entry]] = {}
"""The live slot indexes, kept from the first handler call that saw them, for wake-ups."""
_wakers: dict[str, Callable[[tuple[str, str]], None]] = {}
"""By kind: wake one of its objects (namespace, name) now."""
_admissible: set[tuple[str, str, str]] = set()
"""The objects the gate would admit, as `wake_admissible` last found them."""
_admissible_lock = threading.Lock()
_holding: set[tuple[str, str, str]] = set()
"""The objects whose last event showed them holding a Job slot (by `Entry.key`)."""


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    """Our own annotation prefix and finalizer, Event identity (only warnings of Kopf's own
    become Events), and the Job watch filter."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration", v1=False
    )
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.posting.reporting_component = COMPONENT
    settings.posting.reporting_instance = os.environ.get("HOSTNAME", COMPONENT)
    # Kopf's own progress lines ("Handler 'create' succeeded.") stay in the log, not in
    # Events: two requests per backup for nothing a user acts on. Ours are posted anyway.
    settings.posting.level = logging.WARNING
    # Our Jobs whose outcome is not recorded yet: the finished ones kept for their logs
    # cost no watch events, no memory and no start-up processing.
    settings.watching.label_selectors["batch", "jobs"] = (
        f"{naming.LABEL_MANAGED_BY}={naming.MANAGER},!{naming.LABEL_SETTLED}"
    )
    # Nor the backups and restores that are done with: informers follow those, keeping a few
    # fields each where Kopf would keep a memory record, a body, and a start-up pass.
    for kind in _subscribers:
        settings.watching.label_selectors[GROUP, kind.plural] = f"!{naming.LABEL_SETTLED}"
    config.load_config()  # type: ignore[no-untyped-call]  # in-cluster, else kubeconfig
    # As many pooled connections as threads that call the API server at once (Kopf's
    # pool, the wakers'): the default keeps 10, so a burst opened a TLS connection per call.
    configuration = client.Configuration.get_default_copy()
    configuration.connection_pool_maxsize = API_CONNECTIONS
    api_client = client.ApiClient(configuration)
    _kube.append(Kube(api_client, may_write))
    for kind, subscribers in _subscribers.items():
        informer = _informers[kind] = Informer(api_client, kind, _served)
        for subscriber in subscribers:
            informer.subscribe(subscriber)
        informer.start()


def kube() -> Kube:
    """The process's Kubernetes adapter (made at start-up)."""
    return _kube[0]


def post_event(body: Body, event: Event) -> None:
    """Post `event` on the object `body` (not once this replica stopped acting), and log it:
    the log tells each object's story as its Events do."""
    if not may_write():
        return
    metadata = body["metadata"]
    log.log(
        logging.WARNING if event.type == "Warning" else logging.INFO,
        "%s %s/%s: %s: %s",
        body.get("kind", "object"),
        metadata.get("namespace"),
        metadata["name"],
        event.reason,
        event.message,
    )
    # kopf.event reads only apiVersion, kind and metadata: a raw API dict serves.
    kopf.event(cast(kopf.Body, body), type=event.type, reason=event.reason, message=event.message)


def remember_slot_indexes(kwargs: Mapping[str, Any]) -> None:
    """Keep the slot indexes a handler was given, for calls made without them (wake-ups)."""
    for index_id in SLOT_INDEXES:
        if index_id in kwargs and index_id not in _slot_indexes:
            _slot_indexes[index_id] = kwargs[index_id]


def index_values(index: kopf.Index[Any, Any] | None, key: Any = "all") -> list[Any]:
    """A Kopf index's values under `key` now (none before the index is known). Kopf updates
    an index in its event loop's thread while handlers read it in theirs: a copy taken during
    an update is taken again."""
    if index is None:
        return []
    for attempt in range(INDEX_COPY_TRIES):
        try:
            return list(index.get(key, []))
        except RuntimeError:  # changed size during iteration
            if attempt == INDEX_COPY_TRIES - 1:
                raise
    return []


def slot_entries() -> list[Entry]:
    """Every kind's slot entries now."""
    return [entry for index in list(_slot_indexes.values()) for entry in index_values(index)]


def slot_snapshot() -> Snapshot:
    """A copy of every kind's slot entries, placed in the gate's sequence."""
    return Snapshot.take(slot_entries)


def slots() -> Slots:
    """The gate with the slot entries as they are now."""
    return Slots(GATE, slot_snapshot(), wake_admissible, _turned_away)


def register_waker(kind: str, wake: Callable[[tuple[str, str]], None]) -> None:
    """How the gate wakes queued objects of `kind` (ahead of other wake-ups: a slot is free)."""
    _wakers[kind] = wake


def slot_released(
    entry_key: tuple[str, str, str], entry: Entry | None, *, deleted: bool = False
) -> bool:
    """Whether this event shows an object giving up the Job slot it held (finished, backing
    off, deleted): only then can a queued one start, so only then is the queue looked at
    (not at each of the thousands of events of a burst of new backups). `entry` is None
    once it holds none; the gate forgets an object `deleted`. Called in Kopf's event loop
    only."""
    if deleted:
        GATE.forget(entry_key)
    if entry is not None and entry.state is State.ACTIVE:
        _holding.add(entry_key)
        return False
    if entry_key in _holding:
        _holding.discard(entry_key)
        return True
    return False


def _turned_away(key: tuple[str, str, str]) -> None:
    """An object's pass found it not admissible: the next call of `wake_admissible` that
    finds it admissible wakes it again (a woken object can lose the slot to another, or be
    turned away once its checks named its database server)."""
    with _admissible_lock:
        _admissible.discard(key)


def wake_admissible() -> None:
    """Wake the queued objects, of any kind, that have just become admissible. One the last
    call found admissible already was woken then, unless its pass was turned away since:
    waking it at every event (the indexes can lag their objects by seconds) only read
    finished backups over and over."""
    admissible = {entry.key: entry for entry in GATE.admissible(slot_snapshot())}
    with _admissible_lock:
        new = admissible.keys() - _admissible
        _admissible.clear()
        _admissible.update(admissible)
    for key in sorted(new):
        wake = _wakers.get(admissible[key].kind)
        if wake is not None:
            wake(admissible[key].ref)
