"""The outbound gate on real listeners: webhooks, SMTP and the preflight database check
connect only where the egress policy allows, only to the address that was checked, and report
failures in fixed words. Every refused destination has a listener that must record nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from devenv.tenants import Database
from tenant_backup.adapters import db
from tenant_backup.adapters.notify.email import send_email, smtp_server
from tenant_backup.adapters.notify.retry import DeliveryError
from tenant_backup.adapters.notify.webhook import post_webhook
from tenant_backup.api.notifications import SmtpTls
from tenant_backup.api.reasons import Reason
from tenant_backup.backup.notice import notice_for
from tenant_backup.core.egress import EgressPolicy
from tenant_backup.core.notice import Notice
from tests.support.egress import LOOPBACK_ALLOWED
from tests.support.lifecycles import lifecycle
from tests.support.receivers import (
    ConnectionRecorder,
    SmtpReceiver,
    WebhookReceiver,
    self_signed_certificate,
)

KEY = b"webhook-hmac-key"
DEFAULT = EgressPolicy()
NOT_ALLOWED = "DestinationNotAllowed: the operator may not connect there"


@pytest.fixture
def notice() -> Notice:
    return notice_for(lifecycle([Reason.LOCK_TIMEOUT])[-1])


class Rebinding:
    """A resolver that answers `first`, then `later` on every further query (DNS rebinding)."""

    def __init__(self, first: str, later: str) -> None:
        self.first, self.later, self.queries = first, later, 0

    def __call__(self, host: str, port: int) -> list[str]:
        self.queries += 1
        return [self.first if self.queries == 1 else self.later]


def refused(error: pytest.ExceptionInfo[DeliveryError]) -> str:
    assert not error.value.retryable
    return str(error.value)


def test_webhook_at_loopback_is_refused_by_default(notice: Notice) -> None:
    with WebhookReceiver() as hook, pytest.raises(DeliveryError) as error:
        post_webhook(hook.url, KEY, notice, 5, DEFAULT)
    assert (
        refused(error)
        == f"http://127.0.0.1:{hook.port}: {NOT_ALLOWED} (its address is in a denied range)"
    )
    assert hook.hooks == []


def test_webhook_at_a_link_local_address_is_refused(notice: Notice, link_local: str) -> None:
    with WebhookReceiver(host=link_local) as hook:
        for policy in (DEFAULT, LOOPBACK_ALLOWED):
            with pytest.raises(DeliveryError, match=NOT_ALLOWED) as error:
                post_webhook(hook.url, KEY, notice, 5, policy)
            refused(error)
    assert hook.hooks == []


def test_webhook_at_a_name_resolving_to_a_denied_address_is_refused(notice: Notice) -> None:
    with WebhookReceiver() as hook, pytest.raises(DeliveryError, match=NOT_ALLOWED) as error:
        post_webhook(hook.url_via("localhost"), KEY, notice, 5, DEFAULT)
    assert f"http://localhost:{hook.port}: " in refused(error)
    assert hook.hooks == []


@pytest.mark.parametrize(
    ("host", "policy"),
    [("0x7f.1", DEFAULT), ("2130706433", DEFAULT), ("[::ffff:169.254.201.7]", LOOPBACK_ALLOWED)],
)
def test_other_spellings_of_a_denied_address_are_refused(
    notice: Notice, link_local: str, host: str, policy: EgressPolicy
) -> None:
    with WebhookReceiver() as hook, WebhookReceiver(host=link_local) as linked:
        port = hook.port if "169.254" not in host else linked.port
        with pytest.raises(DeliveryError, match=NOT_ALLOWED):
            post_webhook(f"http://{host}:{port}/x", KEY, notice, 5, policy)
    assert hook.hooks == linked.hooks == []


def test_a_redirect_to_a_denied_address_is_not_followed(notice: Notice, link_local: str) -> None:
    with (
        WebhookReceiver(host=link_local) as target,
        WebhookReceiver(status=307, location=target.url) as hook,
        pytest.raises(DeliveryError) as error,
    ):
        post_webhook(hook.url, KEY, notice, 5, LOOPBACK_ALLOWED)
    assert refused(error) == (
        f"http://127.0.0.1:{hook.port} answered HTTP 307 (redirects are not followed)"
    )
    assert len(hook.hooks) == 1
    assert target.hooks == []


def test_webhook_connects_to_the_checked_address_only(notice: Notice, link_local: str) -> None:
    """The name first resolves to an allowed address, then to a denied one: the POST goes to
    the first, and the name is resolved once."""
    with WebhookReceiver() as hook, ConnectionRecorder(link_local) as denied:
        resolve = Rebinding("127.0.0.1", link_local)
        url = hook.url_via("hooks.test")
        result = post_webhook(url, KEY, notice, 5, LOOPBACK_ALLOWED, resolve)
    assert result == f"http://hooks.test:{hook.port} answered HTTP 200"
    assert resolve.queries == 1
    [received] = hook.hooks
    assert received.headers["host"] == f"hooks.test:{hook.port}"
    assert received.signed_with(KEY)
    assert denied.peers == []


def test_https_webhook_verifies_the_host_name_at_the_checked_address(
    notice: Notice, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The certificate names hooks.test only: TLS passes because it is verified against the
    name, while the connection goes to the address checked for it."""
    cert = self_signed_certificate(tmp_path, "DNS:hooks.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))
    resolve = Rebinding("127.0.0.1", "169.254.169.254")
    with WebhookReceiver(cert=cert) as hook:
        url = hook.url_via("hooks.test")
        assert post_webhook(url, KEY, notice, 5, LOOPBACK_ALLOWED, resolve).endswith("HTTP 200")
        with pytest.raises(DeliveryError) as error:
            post_webhook(hook.url, KEY, notice, 5, LOOPBACK_ALLOWED)  # by address: wrong name
    assert refused(error) == f"https://127.0.0.1:{hook.port}: TLS failed (certificate or handshake)"
    assert len(hook.hooks) == 1


def test_webhook_failures_show_fixed_texts(notice: Notice) -> None:
    with ConnectionRecorder() as gone:
        closed = f"http://127.0.0.1:{gone.port}"
    with pytest.raises(DeliveryError) as refusal:
        post_webhook(f"{closed}/x", KEY, notice, 1, LOOPBACK_ALLOWED)
    with WebhookReceiver(delay=3) as silent, pytest.raises(DeliveryError) as timeout:
        post_webhook(silent.url, KEY, notice, 1, LOOPBACK_ALLOWED)
    assert str(refusal.value) == f"{closed}: connection refused"
    assert str(timeout.value) == f"http://127.0.0.1:{silent.port}: timed out"
    assert refusal.value.retryable
    assert timeout.value.retryable


@pytest.fixture
def mail_cert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A certificate for the name mail.test only, trusted by this process."""
    cert = self_signed_certificate(tmp_path, "DNS:mail.test")
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))
    return cert


def smtp_secret(host: str, port: int) -> dict[str, str]:
    return {"host": host, "port": str(port), "from": "backups@example.com"}


def test_smtp_to_a_denied_address_is_refused(notice: Notice, link_local: str) -> None:
    with ConnectionRecorder() as loopback, ConnectionRecorder(link_local) as linked:
        for host, port, policy in (
            ("127.0.0.1", loopback.port, DEFAULT),
            ("localhost", loopback.port, DEFAULT),
            (link_local, linked.port, LOOPBACK_ALLOWED),
        ):
            server = smtp_server(smtp_secret(host, port), SmtpTls.NONE)
            with pytest.raises(DeliveryError) as error:
                send_email(server, ["ops@example.com"], notice, 5, policy)
            assert refused(error).startswith(f"{host}:{port}: {NOT_ALLOWED}")
    assert loopback.peers == linked.peers == []


@pytest.mark.parametrize("tls", [SmtpTls.STARTTLS, SmtpTls.TLS])
def test_smtp_tls_verifies_the_name_at_the_checked_address(
    notice: Notice, mail_cert: tuple[Path, Path], link_local: str, tls: SmtpTls
) -> None:
    implicit = tls is SmtpTls.TLS
    with (
        SmtpReceiver(cert=mail_cert, implicit_tls=implicit) as smtp,
        ConnectionRecorder(link_local) as denied,
    ):
        resolve = Rebinding("127.0.0.1", link_local)
        server = smtp_server(smtp_secret("mail.test", smtp.port), tls)
        result = send_email(server, ["ops@example.com"], notice, 10, LOOPBACK_ALLOWED, resolve)
        by_address = smtp_server(smtp_secret("127.0.0.1", smtp.port), tls)
        with pytest.raises(DeliveryError) as error:
            send_email(by_address, ["ops@example.com"], notice, 10, LOOPBACK_ALLOWED)
    assert result == f"sent to 1 recipient(s) via mail.test:{smtp.port}"
    assert resolve.queries == 1
    [mail] = smtp.mails
    assert mail.tls or implicit  # aiosmtpd's session has no STARTTLS state under implicit TLS
    assert denied.peers == []
    assert refused(error) == f"127.0.0.1:{smtp.port}: TLS failed (certificate or handshake)"


def test_smtp_that_is_no_smtp_server_shows_no_banner(notice: Notice) -> None:
    with ConnectionRecorder() as closing:
        server = smtp_server(smtp_secret("127.0.0.1", closing.port), SmtpTls.NONE)
        with pytest.raises(DeliveryError) as error:
            send_email(server, ["ops@example.com"], notice, 5, LOOPBACK_ALLOWED)
    assert error.value.retryable
    assert str(error.value) == f"127.0.0.1:{closing.port}: not an SMTP answer"
    assert len(closing.peers) == 1


def preflight(
    secret: dict[str, str], policy: EgressPolicy, resolve: Rebinding | None = None
) -> db.TenantCheck:
    if resolve is None:
        return db.check_tenant(secret, "tenant_nosuch", "disable", 5, policy)
    return db.check_tenant(secret, "tenant_nosuch", "disable", 5, policy, resolve)


def db_secret(database: Database, host: str, port: int) -> dict[str, str]:
    return {
        "host": host,
        "port": str(port),
        "dbname": database.dbname,
        "username": database.backup.user,
        "password": database.backup.password,
    }


def test_preflight_to_a_denied_address_connects_nowhere_and_is_no_verdict(
    shared_tenant_db: Database, link_local: str
) -> None:
    """Refused: the check is skipped (the Job decides, from the backup's namespace), whereas
    an allowed address gets the verdict that the schema is missing."""
    port = shared_tenant_db.server.port
    assert preflight(db_secret(shared_tenant_db, "127.0.0.1", port), DEFAULT) == db.TenantCheck()
    with ConnectionRecorder(link_local) as linked:
        secret = db_secret(shared_tenant_db, link_local, linked.port)
        assert preflight(secret, LOOPBACK_ALLOWED) == db.TenantCheck()
    assert linked.peers == []
    verdict = preflight(db_secret(shared_tenant_db, "127.0.0.1", port), LOOPBACK_ALLOWED)
    assert verdict.problem is Reason.TENANT_NOT_FOUND


def test_preflight_connects_to_the_checked_address_only(
    shared_tenant_db: Database, link_local: str
) -> None:
    """libpq gets `hostaddr`: the name is resolved by the gate, once."""
    with ConnectionRecorder(link_local) as denied:
        resolve = Rebinding("127.0.0.1", link_local)
        secret = db_secret(shared_tenant_db, "db.test", shared_tenant_db.server.port)
        verdict = preflight(secret, LOOPBACK_ALLOWED, resolve)
    assert verdict.problem is Reason.TENANT_NOT_FOUND
    assert resolve.queries == 1
    assert denied.peers == []
