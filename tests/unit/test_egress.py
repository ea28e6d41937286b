"""The egress policy: which resolved addresses the operator may connect to, and the gate that
resolves once and checks every address."""

from __future__ import annotations

import pytest

from tenant_backup.adapters import outbound
from tenant_backup.core.egress import EgressPolicy, as_address, refusal
from tenant_backup.settings import Settings

DEFAULT = EgressPolicy()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.0.9",
        "::1",
        "169.254.169.254",  # cloud metadata
        "169.254.0.1",
        "fe80::1",
        "fe80::1%lo",  # with a scope id, as getaddrinfo gives link-local addresses
        "fd00:ec2::254",  # IPv6 metadata
        "100.100.100.200",
        "0.0.0.0",
        "::",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:169.254.169.254",
    ],
)
def test_default_refuses_loopback_link_local_metadata_and_unspecified(address: str) -> None:
    assert refusal("x.example", as_address(address), DEFAULT) == "its address is in a denied range"


@pytest.mark.parametrize("address", ["10.0.0.5", "192.168.1.2", "203.0.113.7", "2001:db8::5"])
def test_default_allows_other_addresses(address: str) -> None:
    assert refusal("x.example", as_address(address), DEFAULT) is None


def test_allow_list_is_the_only_way_out_and_denied_still_wins() -> None:
    policy = EgressPolicy.from_lists(
        ["127.0.0.0/8", "10.9.0.0/16"], ["10.0.0.0/8"], ["Mail.Example.", "*.hooks.example"]
    )
    assert refusal("db", as_address("10.1.2.3"), policy) is None
    assert refusal("mail.example", as_address("192.0.2.1"), policy) is None
    assert refusal("a.b.hooks.example", as_address("192.0.2.1"), policy) is None
    assert refusal("hooks.example", as_address("192.0.2.1"), policy) == (
        "it is not on the allow-list"
    )
    assert refusal("evilhooks.example", as_address("192.0.2.1"), policy) is not None
    assert refusal("db", as_address("10.9.1.1"), policy) == "its address is in a denied range"
    assert refusal("mail.example", as_address("127.0.0.1"), policy) is not None


def test_settings_read_lists_from_the_environment_and_reject_nonsense() -> None:
    settings = Settings.from_env(
        {
            "TENANT_BACKUP_DENIED_CIDRS": " 10.0.0.0/8, ::1 ,",
            "TENANT_BACKUP_ALLOWED_HOSTS": "hooks.example",
        }
    )
    assert settings.denied_cidrs == ("10.0.0.0/8", "::1")
    assert settings.allowed_hosts == ("hooks.example",)
    assert Settings.from_env({"TENANT_BACKUP_DENIED_CIDRS": ""}).denied_cidrs == ()
    with pytest.raises(ValueError, match="denied_cidrs"):
        Settings.from_env({"TENANT_BACKUP_DENIED_CIDRS": "10.0.0.0/8,intranet"})
    assert outbound.policy_of(Settings()) == DEFAULT


def resolver(*answers: list[str]) -> tuple[outbound.Resolver, list[str]]:
    """A resolver giving `answers` in turn, and the names it was asked."""
    asked: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return answers[min(len(asked), len(answers)) - 1]

    return resolve, asked


def test_every_address_of_a_name_must_pass() -> None:
    resolve, _ = resolver(["203.0.113.7", "::1"])
    with pytest.raises(outbound.DestinationNotAllowedError, match="DestinationNotAllowed"):
        outbound.check("both.example", 443, DEFAULT, resolve)


def test_checked_destination_keeps_the_addresses_of_the_one_resolution() -> None:
    resolve, asked = resolver(["203.0.113.7"], ["169.254.169.254"])
    destination = outbound.check("hooks.example", 443, DEFAULT, resolve)
    assert destination == outbound.Destination("hooks.example", 443, ("203.0.113.7",))
    assert asked == ["hooks.example"]


@pytest.mark.parametrize("host", ["/var/run/postgresql", "a.example,b.example", ""])
def test_socket_paths_and_host_lists_are_refused(host: str) -> None:
    resolve, asked = resolver(["203.0.113.7"])
    with pytest.raises(outbound.DestinationNotAllowedError):
        outbound.check(host, 5432, DEFAULT, resolve)
    assert asked == []


def test_a_name_without_address_is_its_own_class() -> None:
    with pytest.raises(outbound.NameNotResolvedError):
        outbound.check("no-such-host.invalid", 80, DEFAULT)


@pytest.mark.parametrize(
    ("error", "text", "retryable"),
    [
        (outbound.DestinationNotAllowedError("DestinationNotAllowed: x"), "Destination", False),
        (outbound.NameNotResolvedError(), "the host name did not resolve", True),
        (ConnectionRefusedError(111, "Connection refused"), "connection refused", True),
        (TimeoutError("timed out after 1.0s at 10.0.0.1"), "timed out", True),
        (ConnectionResetError(104, "reset"), "connection closed by the peer", True),
        (OSError(113, "No route to host"), "connection failed", True),
    ],
)
def test_failures_are_fixed_texts_per_class(error: Exception, text: str, retryable: bool) -> None:
    shown, again = outbound.failure_text(error)
    assert shown.startswith(text)
    assert again is retryable
    assert "Errno" not in shown
    assert "10.0.0.1" not in shown
