"""The one gate for the operator's connections to user-chosen destinations: resolve the name
once, check every address against the egress policy, and connect only to checked addresses
(never resolving again: a name that answers differently the second time gains nothing).
Failures are described by class, in fixed words, never as raw socket errors."""

import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tenant_backup.core.egress import NOT_ALLOWED, EgressPolicy, first_refusal
from tenant_backup.settings import Settings

Resolver = Callable[[str, int], Sequence[str]]
"""(host, port) → the addresses to connect to, in order."""


class DestinationNotAllowedError(Exception):
    """The egress policy refuses the destination: permanent, nothing was sent."""


class NameNotResolvedError(Exception):
    """The host name has no address."""


@dataclass(frozen=True)
class Destination:
    """A host name and port whose addresses passed the egress policy."""

    host: str
    port: int
    addresses: tuple[str, ...]


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses getaddrinfo gives for a TCP connection, duplicates dropped."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def policy_of(settings: Settings) -> EgressPolicy:
    """The operator's egress policy from its settings."""
    return EgressPolicy.from_lists(
        settings.denied_cidrs, settings.allowed_cidrs, settings.allowed_hosts
    )


def check(
    host: str, port: int, policy: EgressPolicy, resolve: Resolver = system_resolver
) -> Destination:
    """`host:port` resolved once and checked; DestinationNotAllowedError or NameNotResolvedError."""
    if not host or host.startswith("/") or "," in host:
        raise DestinationNotAllowedError(f"{NOT_ALLOWED}: not a single network host name")
    try:
        addresses = tuple(resolve(host, port))
    except (OSError, UnicodeError) as error:
        raise NameNotResolvedError("the host name did not resolve") from error
    if not addresses:
        raise NameNotResolvedError("the host name did not resolve")
    why = first_refusal(host, addresses, policy)
    if why is not None:
        raise DestinationNotAllowedError(
            f"{NOT_ALLOWED}: the operator may not connect there ({why})"
        )
    return Destination(host, port, addresses)


def connect(destination: Destination, timeout: float | None) -> socket.socket:
    """A TCP connection to the first checked address that accepts; the last error if none."""
    last: OSError = ConnectionRefusedError()
    for address in destination.addresses:
        try:
            return socket.create_connection((address, destination.port), timeout)
        except OSError as error:
            last = error
    raise last


def failure_text(error: BaseException) -> tuple[str, bool]:
    """What a failed connection shows, and whether trying again may help: one fixed text per
    class, so status never becomes a map of the network."""
    if isinstance(error, DestinationNotAllowedError):
        return str(error), False
    if isinstance(error, NameNotResolvedError):
        return "the host name did not resolve", True
    if isinstance(error, ssl.SSLError):
        return "TLS failed (certificate or handshake)", False
    if isinstance(error, TimeoutError):
        return "timed out", True
    if isinstance(error, ConnectionRefusedError):
        return "connection refused", True
    if isinstance(error, ConnectionError):
        return "connection closed by the peer", True
    return "connection failed", True
