"""Which addresses the operator itself may connect to for a user-chosen destination (webhook,
SMTP relay, database preflight): pure classification of resolved addresses."""

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tenant_backup.settings import DEFAULT_DENIED_CIDRS

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

NOT_ALLOWED = "DestinationNotAllowed"
"""The word that status, Events and logs show for a refused destination."""


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """CIDRs (or single addresses) as networks; host bits are ignored. ValueError if one is
    not an address range."""
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs)


def normal_host(host: str) -> str:
    """A host name as the allow-list compares it: lower case, no trailing dot."""
    return host.strip().lower().rstrip(".")


@dataclass(frozen=True)
class EgressPolicy:
    """`denied` always wins; when an allow-list is set (`allowed` ranges or `allowed_hosts`
    names, `*.` for any subdomain), nothing outside it is allowed."""

    denied: tuple[Network, ...] = parse_networks(DEFAULT_DENIED_CIDRS)
    allowed: tuple[Network, ...] = ()
    allowed_hosts: frozenset[str] = frozenset()

    @classmethod
    def from_lists(
        cls, denied: Sequence[str], allowed: Sequence[str], allowed_hosts: Sequence[str]
    ) -> "EgressPolicy":
        """The policy from the operator's settings (strings, as configured)."""
        return cls(
            denied=parse_networks(denied),
            allowed=parse_networks(allowed),
            allowed_hosts=frozenset(normal_host(host) for host in allowed_hosts),
        )

    @property
    def has_allow_list(self) -> bool:
        """Whether only the allow-list's destinations are allowed."""
        return bool(self.allowed or self.allowed_hosts)

    def host_allowed(self, host: str) -> bool:
        """Whether the allow-list names `host` (exactly, or under a `*.` entry)."""
        name = normal_host(host)
        parents = {"*." + name.split(".", i)[-1] for i in range(1, name.count(".") + 1)}
        return name in self.allowed_hosts or not parents.isdisjoint(self.allowed_hosts)


def as_address(text: str) -> Address:
    """A resolved address (IPv6 scope ids allowed); IPv4-mapped IPv6 addresses become the
    IPv4 address they carry, so `::ffff:127.0.0.1` is loopback too."""
    address = ipaddress.ip_address(text)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def refusal(host: str, address: Address, policy: EgressPolicy) -> str | None:
    """Why the operator may not connect to `address` (resolved from `host`), or None."""
    if any(address in network for network in policy.denied if network.version == address.version):
        return "its address is in a denied range"
    if not policy.has_allow_list:
        return None
    if policy.host_allowed(host):
        return None
    if any(address in network for network in policy.allowed if network.version == address.version):
        return None
    return "it is not on the allow-list"


def first_refusal(host: str, addresses: Iterable[str], policy: EgressPolicy) -> str | None:
    """Why not, if any address of `host` is refused (all of them must pass), or None."""
    for text in addresses:
        why = refusal(host, as_address(text), policy)
        if why is not None:
            return why
    return None
