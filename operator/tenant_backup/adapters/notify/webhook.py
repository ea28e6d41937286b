"""HTTP at the edge: POST the signed notice to a webhook, through the outbound gate."""

import http.client
import ssl
from urllib.parse import urlsplit

from tenant_backup.adapters import outbound
from tenant_backup.adapters.notify.retry import DeliveryError
from tenant_backup.core.egress import EgressPolicy
from tenant_backup.core.notice import DELIVERY_HEADER, SIGNATURE_HEADER, Notice, sign

USER_AGENT = "tenant-backup-operator"
RETRYABLE_STATUS = frozenset({408, 425, 429})
DEFAULT_PORTS = {"http": 80, "https": 443}


def receiver(url: str) -> str:
    """How a webhook URL is shown: scheme, host and port only (paths may hold tokens)."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


class _PinnedHTTP(http.client.HTTPConnection):
    """HTTP to a checked address; the Host header still names the host."""

    def __init__(self, destination: outbound.Destination, timeout: float) -> None:
        super().__init__(destination.host, destination.port, timeout=timeout)
        self.destination = destination

    def connect(self) -> None:
        """Connect to the checked address only (no second resolution)."""
        self.sock = outbound.connect(self.destination, self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a checked address; the certificate is verified against the host name."""

    def __init__(self, destination: outbound.Destination, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(destination.host, destination.port, timeout=timeout, context=self.tls)
        self.destination = destination

    def connect(self) -> None:
        """Connect to the checked address, then TLS for the host name."""
        raw = outbound.connect(self.destination, self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.destination.host)


def post_webhook(
    url: str,
    key: bytes,
    notice: Notice,
    timeout: float,
    policy: EgressPolicy,
    resolve: outbound.Resolver = outbound.system_resolver,
) -> str:
    """POST the notice once, following no redirect; what happened, or a DeliveryError
    (retryable for 5xx, 408, 425, 429 and network errors; never for a refused destination)."""
    shown = receiver(url)
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise DeliveryError(f"{shown}: only http and https URLs are allowed", retryable=False)
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError as error:
        raise DeliveryError(f"{shown}: the URL's port is invalid", retryable=False) from error
    try:
        destination = outbound.check(parts.hostname, port, policy, resolve)
        status = _post(destination, parts.scheme, _target(url), key, notice, timeout)
    except (outbound.DestinationNotAllowedError, outbound.NameNotResolvedError, OSError) as error:
        text, retryable = outbound.failure_text(error)
        raise DeliveryError(f"{shown}: {text}", retryable=retryable) from error
    except http.client.HTTPException as error:
        raise DeliveryError(f"{shown}: not an HTTP answer", retryable=True) from error
    if 300 <= status < 400:
        raise DeliveryError(
            f"{shown} answered HTTP {status} (redirects are not followed)", retryable=False
        )
    if status >= 400:
        retryable = status >= 500 or status in RETRYABLE_STATUS
        raise DeliveryError(f"{shown} answered HTTP {status}", retryable=retryable)
    return f"{shown} answered HTTP {status}"


def _target(url: str) -> str:
    """The request target: path and query of the URL."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _post(
    destination: outbound.Destination,
    scheme: str,
    target: str,
    key: bytes,
    notice: Notice,
    timeout: float,
) -> int:
    """The status of one POST to the checked destination."""
    connection = (
        _PinnedHTTPS(destination, timeout)
        if scheme == "https"
        else _PinnedHTTP(destination, timeout)
    )
    try:
        connection.request(
            "POST",
            target,
            body=notice.payload,
            headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                SIGNATURE_HEADER: sign(key, notice.payload),
                DELIVERY_HEADER: notice.delivery_id,
            },
        )
        return connection.getresponse().status
    finally:
        connection.close()
