"""The operator process's wiring shared by every kind's registrations: Kopf's settings,
the one Kubernetes client, and posting our Events."""

import logging
import os
from typing import Any, cast

import kopf
from kubernetes import client, config

from tenant_backup.adapters.kube import Body, Kube
from tenant_backup.api.kinds import GROUP
from tenant_backup.core import naming
from tenant_backup.core.events import Event
from tenant_backup.settings import Settings

SETTINGS = Settings.from_env()
COMPONENT = "tenant-backup-operator"
_kube: list[Kube] = []


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
    settings.watching.label_selectors["batch", "jobs"] = (
        f"{naming.LABEL_MANAGED_BY}={naming.MANAGER}"
    )
    config.load_config()  # type: ignore[no-untyped-call]  # in-cluster, else kubeconfig
    _kube.append(Kube(client.ApiClient()))


def kube() -> Kube:
    """The process's Kubernetes adapter (made at start-up)."""
    return _kube[0]


def post_event(body: Body, event: Event) -> None:
    """Post `event` on the object `body`."""
    # kopf.event reads only apiVersion, kind and metadata: a raw API dict serves.
    kopf.event(cast(kopf.Body, body), type=event.type, reason=event.reason, message=event.message)
