"""Kopf registrations only: every trigger runs the same `drive` for the TenantBackup."""

import os
import threading
from collections import defaultdict
from typing import Any, cast

import kopf
from kubernetes import client, config

from tenant_backup.adapters.kube import Body, Kube
from tenant_backup.api import kinds
from tenant_backup.api.backup import TenantBackup
from tenant_backup.backup import followups
from tenant_backup.backup.drive import drive
from tenant_backup.backup.plan import Event
from tenant_backup.core import naming
from tenant_backup.core.gate import Gate, Slots
from tenant_backup.core.scheduling import Entry, Limits, entry_of
from tenant_backup.settings import Settings

SETTINGS = Settings.from_env()
GATE = Gate(Limits(SETTINGS.max_running_jobs, SETTINGS.max_running_jobs_per_server))
COMPONENT = "tenant-backup-operator"
_locks: defaultdict[tuple[str, str], threading.Lock] = defaultdict(threading.Lock)
_kube: list[Kube] = []


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    """Our own annotation prefix and finalizer, Event identity, and the Job watch filter."""
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=kinds.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=kinds.GROUP, key="last-handled-configuration", v1=False
    )
    settings.persistence.finalizer = f"{kinds.GROUP}/finalizer"
    settings.posting.reporting_component = COMPONENT
    settings.posting.reporting_instance = os.environ.get("HOSTNAME", COMPONENT)
    settings.watching.label_selectors["batch", "jobs"] = (
        f"{naming.LABEL_MANAGED_BY}={naming.MANAGER}"
    )
    config.load_config()  # type: ignore[no-untyped-call]  # in-cluster, else kubeconfig
    _kube.append(Kube(client.ApiClient()))


def _post(body: Body, event: Event) -> None:
    # kopf.event reads only apiVersion, kind and metadata: a raw API dict serves.
    kopf.event(cast(kopf.Body, body), type=event.type, reason=event.reason, message=event.message)


@kopf.index(kinds.GROUP, kinds.VERSION, kinds.TENANT_BACKUP.plural, id="slots")
def slots(body: kopf.Body, **_: Any) -> dict[str, Entry]:
    """Unfinished backups that hold or want a Job slot, for the concurrency gate."""
    entry = entry_of(body)
    return {"all": entry} if entry else {}


def _drive(namespace: str | None, name: str, slots: kopf.Index[str, Entry]) -> None:
    """Reconcile one backup under its lock; `slots` is the index Kopf passes every handler."""
    if namespace is None:
        raise kopf.PermanentError("TenantBackups and their Jobs are namespaced")
    with _locks[namespace, name]:
        drive(_kube[0], SETTINGS, namespace, name, _post, Slots(GATE, list(slots.get("all", []))))


def _resync_wanted(body: kopf.Body, **_: Any) -> bool:
    """Unfinished, or owing history or notifications (e.g. the history database was down)."""
    return followups.needs_resync(TenantBackup.from_body(body), SETTINGS.history_enabled)


@kopf.on.resume(kinds.GROUP, kinds.VERSION, kinds.TENANT_BACKUP.plural, id="resume")
@kopf.on.create(kinds.GROUP, kinds.VERSION, kinds.TENANT_BACKUP.plural, id="create")
def on_backup(namespace: str | None, name: str, **kwargs: Any) -> None:
    """A new TenantBackup, or one found at start-up."""
    _drive(namespace, name, kwargs["slots"])


@kopf.timer(
    kinds.GROUP,
    kinds.VERSION,
    kinds.TENANT_BACKUP.plural,
    id="resync",
    interval=SETTINGS.resync_seconds,
    when=_resync_wanted,
)
def resync(namespace: str | None, name: str, **kwargs: Any) -> None:
    """Safety net, backoff clock, queue and follow-up retries: re-derive backups periodically."""
    _drive(namespace, name, kwargs["slots"])


@kopf.on.event("batch", "v1", "jobs", labels={naming.LABEL_MANAGED_BY: naming.MANAGER})
def on_job(namespace: str | None, labels: kopf.Labels, **kwargs: Any) -> None:
    """A Job of ours changed: its TenantBackup may have moved on."""
    backup = labels.get(naming.LABEL_BACKUP)
    if backup:
        _drive(namespace, backup, kwargs["slots"])
