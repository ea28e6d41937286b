"""The UI's only way to the API server: REST calls made with the signed-in user's bearer
token. No other credential is ever sent, nor any `Impersonate-*` header: the API server
authenticates and authorizes each call as the user.

Errors do not leave as client exceptions: a refused call is an `ApiRefusedError` carrying the API
server's own reason (shown to the user), and a token it no longer accepts is `UnauthorizedError`.
"""

import base64
import json
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp

from tenant_backup.api.kinds import GROUP, VERSION, Kind

Body = dict[str, Any]
IN_CLUSTER_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
TIMEOUT = aiohttp.ClientTimeout(total=20)


class ApiRefusedError(Exception):
    """The API server refused a call (or could not be reached: status 0); `reason` is what it
    said, fit to show."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status}: {reason}")
        self.status = status
        self.reason = reason


class UnauthorizedError(ApiRefusedError):
    """The API server does not accept the token (expired, revoked, or never valid)."""


@dataclass(frozen=True)
class ApiServer:
    """Where the API server is, and the TLS context that verifies its certificate."""

    url: str
    tls: ssl.SSLContext


def api_server(url: str | None, ca_file: Path | None) -> ApiServer:
    """The API server at `url` verified against `ca_file` (else the system's CAs); without
    `url`, as a pod sees it: the service's address and the mounted CA."""
    if url is None:
        host = os.environ.get("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc")
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        url = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
        ca_file = ca_file or IN_CLUSTER_DIR / "ca.crt"
    cafile = str(ca_file) if ca_file else None
    return ApiServer(url.rstrip("/"), ssl.create_default_context(cafile=cafile))


class UserApi:
    """The API as one user: every call carries their token and nothing else."""

    def __init__(self, http: aiohttp.ClientSession, server: ApiServer, token: str) -> None:
        self._http = http
        self._server = server
        self._token = token

    async def whoami(self) -> str:
        """The user's name, as the API server authenticates the token (SelfSubjectReview)."""
        review = await self._call(
            "POST",
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
        username = review.get("status", {}).get("userInfo", {}).get("username")
        if not isinstance(username, str) or not username:
            raise UnauthorizedError(401, "the API server named no user for this token")
        return username

    async def may(self, verb: str, kind: Kind, namespace: str = "") -> bool:
        """Whether the user may `verb` `kind` in `namespace` (all namespaces when empty), as
        SelfSubjectAccessReview answers: a hint for which buttons to show, never a gate."""
        attributes = {"verb": verb, "group": GROUP, "resource": kind.plural}
        if namespace:
            attributes["namespace"] = namespace
        review = await self._call(
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": attributes},
            },
        )
        return review.get("status", {}).get("allowed") is True

    async def may_list_namespaces(self) -> bool:
        """Whether the user may list namespaces."""
        return await self.may_core("list", "namespaces")

    async def may_core(self, verb: str, resource: str, namespace: str = "", name: str = "") -> bool:
        """Whether the user may `verb` a core-group `resource` (one `name` of it if given):
        SelfSubjectAccessReview, a hint for what to offer."""
        attributes = {"verb": verb, "resource": resource}
        attributes |= {"namespace": namespace} if namespace else {}
        attributes |= {"name": name} if name else {}
        review = await self._call(
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": attributes},
            },
        )
        return review.get("status", {}).get("allowed") is True

    async def secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        """A Secret's data, decoded, read as the user; None when it does not exist. Its values
        are for signing only: never rendered, logged or kept."""
        try:
            secret = await self._call(
                "GET",
                f"/api/v1/namespaces/{quote(namespace, safe='')}/secrets/{quote(name, safe='')}",
            )
        except ApiRefusedError as refused:
            if refused.status == 404:
                return None
            raise
        data = secret.get("data")
        decoded: dict[str, str] = {}
        for key, value in data.items() if isinstance(data, dict) else []:
            try:
                decoded[str(key)] = base64.b64decode(str(value)).decode()
            except (ValueError, UnicodeDecodeError):
                continue
        return decoded

    async def namespaces(self) -> list[str]:
        """The names of the namespaces (needs `list namespaces`)."""
        listed = await self._call("GET", "/api/v1/namespaces")
        return sorted(_names(listed))

    async def list_objects(self, kind: Kind, namespace: str = "") -> list[Body]:
        """Every `kind` in `namespace`, or in all namespaces when empty."""
        scope = f"/namespaces/{quote(namespace, safe='')}" if namespace else ""
        listed = await self._call("GET", f"/apis/{GROUP}/{VERSION}{scope}/{kind.plural}")
        items = listed.get("items")
        return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []

    async def get(self, kind: Kind, namespace: str, name: str) -> Body | None:
        """One object, or None when it does not exist."""
        try:
            return await self._call("GET", _object_path(kind, namespace, name))
        except ApiRefusedError as refused:
            if refused.status == 404:
                return None
            raise

    async def events_of(self, namespace: str, kind: Kind, name: str) -> list[Body]:
        """The Events about one object, oldest first."""
        selector = f"involvedObject.kind={kind.kind},involvedObject.name={name}"
        query = urlencode({"fieldSelector": selector})
        listed = await self._call(
            "GET", f"/api/v1/namespaces/{quote(namespace, safe='')}/events?{query}"
        )
        items = [item for item in listed.get("items") or [] if isinstance(item, dict)]
        return sorted(items, key=lambda event: str(event.get("lastTimestamp") or ""))

    async def create(self, kind: Kind, namespace: str, body: Mapping[str, Any]) -> Body:
        """Create an object; the created object."""
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{quote(namespace, safe='')}/{kind.plural}"
        return await self._call("POST", path, body)

    async def merge_patch(
        self, kind: Kind, namespace: str, name: str, patch: Mapping[str, Any]
    ) -> Body:
        """Apply a JSON merge patch to an object; the patched object."""
        return await self._call(
            "PATCH", _object_path(kind, namespace, name), patch, "application/merge-patch+json"
        )

    async def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> Body:
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body)
        try:
            async with self._http.request(
                method,
                self._server.url + path,
                data=data,
                headers=headers,
                ssl=self._server.tls,
                timeout=TIMEOUT,
                allow_redirects=False,
            ) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ApiRefusedError(
                0, f"the API server could not be reached ({type(error).__name__})"
            ) from None
        document = _json_object(text)
        if status == 401:
            raise UnauthorizedError(401, "the API server no longer accepts this token")
        if status >= 400:
            raise ApiRefusedError(status, _reason(document, status))
        return document


def _object_path(kind: Kind, namespace: str, name: str) -> str:
    return (
        f"/apis/{GROUP}/{VERSION}/namespaces/{quote(namespace, safe='')}/{kind.plural}/"
        f"{quote(name, safe='')}"
    )


def _json_object(text: str) -> Body:
    try:
        document = json.loads(text)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _reason(status: Body, code: int) -> str:
    """The API server's message from a Status object, else the HTTP status."""
    message = status.get("message")
    return message if isinstance(message, str) and message else f"HTTP {code}"


def _names(listed: Body) -> list[str]:
    return [
        item["metadata"]["name"]
        for item in listed.get("items") or []
        if isinstance(item, dict) and isinstance(item.get("metadata", {}).get("name"), str)
    ]
