"""List, then watch, every object of one of our kinds in the namespaces served, and hand each
change to the subscribers: how the operator follows objects it does not drive (settled
TenantBackups) without Kopf keeping a task, a body and a memory record for each.

Only the names known are kept here (to report the objects a relisting no longer finds as
deleted); subscribers keep what they need. Listing is paginated, so starting with thousands
of objects costs one page at a time. A watch that ends is resumed from the last resource
version (bookmarks keep it fresh); one that expired (410) or failed is followed by a relist.
Subscribers are called in the informer's thread, in order, and must be quick.
"""

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.watch.watch import iter_resp_lines

from tenant_backup.api.kinds import GROUP, VERSION, Kind
from tenant_backup.core import namespaces as served_namespaces

Body = dict[str, Any]
PAGE_SIZE = 500
WATCH_SECONDS = 300
RETRY_SECONDS = 2.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Change:
    """One object added, modified or deleted. `body` is None for a deletion found by a
    relisting (the object went while no watch was open)."""

    type: str
    namespace: str
    name: str
    body: Body | None


Subscriber = Callable[[Change], None]


class _ExpiredError(Exception):
    """The resource version to resume from is too old: list again."""


class Informer:
    """Follows one kind in the `namespaces` served (the operator's `--namespace` values:
    exact names, or Kopf's patterns; none: all)."""

    def __init__(
        self, api_client: client.ApiClient, kind: Kind, namespaces: Sequence[str] = ()
    ) -> None:
        self._custom = client.CustomObjectsApi(api_client)
        self._kind = kind
        # Exact names: a list and a watch each. Patterns (or none): one over all namespaces,
        # filtered here as Kopf filters them.
        each = bool(namespaces) and served_namespaces.exact(namespaces)
        self._scopes: list[str | None] = [*namespaces] if each else [None]
        self._patterns = [] if each else list(namespaces)
        self._subscribers: list[Subscriber] = []
        self._known: dict[str | None, set[tuple[str, str]]] = {s: set() for s in self._scopes}
        self._listed = {scope: threading.Event() for scope in self._scopes}
        self._started = False

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call `subscriber` with every change from the next listing on."""
        self._subscribers.append(subscriber)

    def start(self) -> None:
        """List and watch in background threads (a second call does nothing)."""
        if self._started:
            return
        self._started = True
        for scope in self._scopes:
            threading.Thread(
                target=self._follow, args=(scope,), name=f"informer-{scope or 'all'}", daemon=True
            ).start()

    def wait_synced(self, timeout: float) -> bool:
        """Whether every scope's first listing was delivered within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        return all(
            listed.wait(max(0.0, deadline - time.monotonic())) for listed in self._listed.values()
        )

    def _follow(self, scope: str | None) -> None:
        while True:
            try:
                version = self._relist(scope)
                self._listed[scope].set()
                while True:
                    version = self._watch(scope, version)
            except _ExpiredError:
                continue
            except Exception as error:  # an informer must not die
                log.warning("following %s failed, listing again: %s", self._kind.plural, error)
                time.sleep(RETRY_SECONDS)

    def _relist(self, scope: str | None) -> str:
        """Deliver every object now present, and a deletion for each known one gone; the
        list's resource version."""
        seen: set[tuple[str, str]] = set()
        token: str | None = None
        while True:
            page = self._list(scope, token)
            for body in page["items"]:
                key = _key(body)
                if self._served(key[0]):
                    seen.add(key)
                    known = key in self._known[scope]
                    self._known[scope].add(key)
                    self._deliver(Change("MODIFIED" if known else "ADDED", *key, body))
            token = page["metadata"].get("continue")
            if not token:
                break
        for key in sorted(self._known[scope] - seen):
            self._known[scope].discard(key)
            self._deliver(Change("DELETED", *key, None))
        version: str = page["metadata"]["resourceVersion"]
        return version

    def _list(self, scope: str | None, token: str | None) -> Body:
        arguments: dict[str, Any] = {"limit": PAGE_SIZE, "_preload_content": False}
        if token:
            arguments["_continue"] = token
        try:
            response = self._request(scope, arguments)
        except ApiException as error:
            if error.status == 410:  # the continue token expired: start over
                raise _ExpiredError from None
            raise
        page: Body = json.loads(response.data)
        return page

    def _watch(self, scope: str | None, version: str) -> str:
        """Deliver the changes after `version` until the watch ends; the last version."""
        arguments: dict[str, Any] = {
            "watch": True,
            "resource_version": version,
            "allow_watch_bookmarks": True,
            "timeout_seconds": WATCH_SECONDS,
            "_preload_content": False,
            "_request_timeout": (10, WATCH_SECONDS + 30),
        }
        response = self._request(scope, arguments)
        try:
            for event in _events(response):
                kind, body = event["type"], event["object"]
                if kind == "ERROR":
                    if body.get("code") == 410:
                        raise _ExpiredError
                    raise RuntimeError(body.get("message") or "watch error")
                version = body["metadata"]["resourceVersion"]
                if kind == "BOOKMARK":
                    continue
                key = _key(body)
                if not self._served(key[0]):
                    continue
                if kind == "DELETED":
                    self._known[scope].discard(key)
                else:
                    self._known[scope].add(key)
                self._deliver(Change(kind, *key, body))
        finally:
            response.release_conn()
        return version

    def _request(self, scope: str | None, arguments: dict[str, Any]) -> Any:
        """A list (or, with `watch`, a watch) of the kind in `scope` (None: all namespaces);
        the raw response."""
        if scope is None:
            return self._custom.list_cluster_custom_object(
                GROUP, VERSION, self._kind.plural, **arguments
            )
        return self._custom.list_namespaced_custom_object(
            GROUP, VERSION, scope, self._kind.plural, **arguments
        )

    def _served(self, namespace: str) -> bool:
        return served_namespaces.served(namespace, self._patterns)

    def _deliver(self, change: Change) -> None:
        for subscriber in self._subscribers:
            try:
                subscriber(change)
            except Exception:  # one subscriber's failure must not stop the others
                log.exception(
                    "handling %s %s/%s failed", change.type, change.namespace, change.name
                )


def _key(body: Body) -> tuple[str, str]:
    metadata = body["metadata"]
    return metadata.get("namespace", ""), metadata["name"]


def _events(response: Any) -> Iterator[Body]:
    for line in iter_resp_lines(response):  # type: ignore[no-untyped-call]
        if line:
            event: Body = json.loads(line)
            yield event
