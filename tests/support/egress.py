"""The egress settings the tests run the operator with, and a link-local address to listen on.

The tests' receivers and PostgreSQL listen on 127.0.0.1, which the operator's default denies:
operators under test allow loopback (and only loopback) unless a test asks for the defaults."""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import Iterator

import pytest

from tenant_backup.core.egress import EgressPolicy
from tenant_backup.settings import DEFAULT_DENIED_CIDRS

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
LOOPBACK_ALLOWED_CIDRS = tuple(
    cidr for cidr in DEFAULT_DENIED_CIDRS if ipaddress.ip_network(cidr) != LOOPBACK
)
LOOPBACK_ALLOWED = EgressPolicy.from_lists(LOOPBACK_ALLOWED_CIDRS, (), ())
"""The default policy, except that 127.0.0.0/8 is allowed."""
LINK_LOCAL_ADDRESS = "169.254.201.7"  # no cloud uses it; added to `lo` while a test runs


@pytest.fixture
def link_local() -> Iterator[str]:
    """A link-local address of this host (on `lo`) that listeners can bind, removed after."""
    added = subprocess.run(
        ["ip", "addr", "add", f"{LINK_LOCAL_ADDRESS}/32", "dev", "lo"],
        capture_output=True,
        text=True,
    )
    if added.returncode != 0 and "File exists" not in added.stderr:
        raise RuntimeError(f"cannot add {LINK_LOCAL_ADDRESS} to lo: {added.stderr}")
    try:
        yield LINK_LOCAL_ADDRESS
    finally:
        if added.returncode == 0:
            subprocess.run(
                ["ip", "addr", "del", f"{LINK_LOCAL_ADDRESS}/32", "dev", "lo"], check=True
            )
