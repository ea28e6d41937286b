"""Sending notifications to a real SMTP server and a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tenant_backup.adapters.notify.email import send_email, smtp_server
from tenant_backup.adapters.notify.retry import DeliveryError, with_retries
from tenant_backup.adapters.notify.webhook import post_webhook
from tenant_backup.api.notifications import SmtpTls
from tenant_backup.api.reasons import Reason
from tenant_backup.backup.notice import notice_for
from tenant_backup.core.notice import Notice
from tests.support.egress import LOOPBACK_ALLOWED
from tests.support.factories import UID
from tests.support.lifecycles import lifecycle
from tests.support.receivers import SmtpReceiver, WebhookReceiver, self_signed_certificate

KEY = b"webhook-hmac-key"
LOGIN = ("backup-bot", "smtp-pass-0f9e")


@pytest.fixture
def notice() -> Notice:
    return notice_for(lifecycle([Reason.LOCK_TIMEOUT])[-1])


@pytest.fixture
def trusted_cert(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 that this process's TLS clients trust."""
    cert = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))
    return cert


@pytest.fixture
def smtp(trusted_cert: tuple[Path, Path]) -> Iterator[SmtpReceiver]:
    with SmtpReceiver(cert=trusted_cert, login=LOGIN) as receiver:
        yield receiver


def secret(port: int, password: str = LOGIN[1]) -> dict[str, str]:
    return {
        "host": "127.0.0.1",
        "port": str(port),
        "from": "Backups <backups@example.com>",
        "username": LOGIN[0],
        "password": password,
    }


def test_email_over_starttls_with_login(smtp: SmtpReceiver, notice: Notice) -> None:
    server = smtp_server(secret(smtp.port), SmtpTls.STARTTLS)
    result = send_email(
        server, ["ops@example.com", "dba@example.com"], notice, timeout=10, policy=LOOPBACK_ALLOWED
    )
    assert result == f"sent to 2 recipient(s) via 127.0.0.1:{smtp.port}"
    [mail] = smtp.mails
    assert (mail.tls, mail.login) == (True, "backup-bot")
    assert mail.rcpt_tos == ["ops@example.com", "dba@example.com"]
    assert mail.message["Subject"] == "[TenantBackup] acme Succeeded: team-a/nightly"
    assert mail.message["Message-ID"] == f"<{UID}.Succeeded@tenantbackup.dev>"
    body = mail.message.get_content()
    for line in (
        "Tenant:    acme",
        "Outcome:   Succeeded",
        "Artifact:  pvc://backups/x.pgdump.zst",
        "Size:      4.0KiB (4096 bytes)",
        "Duration:  11m2s",
    ):
        assert line in body


def test_email_with_a_wrong_password_fails_permanently_without_showing_it(
    smtp: SmtpReceiver, notice: Notice
) -> None:
    server = smtp_server(secret(smtp.port, password="wrong-pass-77"), SmtpTls.STARTTLS)
    with pytest.raises(DeliveryError) as failure:
        send_email(server, ["ops@example.com"], notice, timeout=10, policy=LOOPBACK_ALLOWED)
    assert not failure.value.retryable
    assert "535" in str(failure.value)
    assert "wrong-pass-77" not in str(failure.value)
    assert smtp.mails == []


def test_email_tls_refuses_an_untrusted_certificate(tmp_path: Path, notice: Notice) -> None:
    """STARTTLS against a certificate nobody trusts: not sent, not retried."""
    with SmtpReceiver(cert=self_signed_certificate(tmp_path), login=LOGIN) as receiver:
        server = smtp_server(secret(receiver.port), SmtpTls.STARTTLS)
        with pytest.raises(DeliveryError, match="TLS failed") as failure:
            send_email(server, ["ops@example.com"], notice, timeout=10, policy=LOOPBACK_ALLOWED)
        assert not failure.value.retryable
        assert receiver.mails == []


def test_email_without_tls_or_login(notice: Notice) -> None:
    with SmtpReceiver() as receiver:
        server = smtp_server(
            {"host": "127.0.0.1", "port": str(receiver.port), "from": "b@example.com"},
            SmtpTls.NONE,
        )
        send_email(server, ["ops@example.com"], notice, timeout=10, policy=LOOPBACK_ALLOWED)
        [mail] = receiver.mails
        assert (mail.tls, mail.login, mail.mail_from) == (False, None, "b@example.com")


def test_webhook_is_signed_json(notice: Notice) -> None:
    with WebhookReceiver() as receiver:
        assert post_webhook(receiver.url, KEY, notice, timeout=5, policy=LOOPBACK_ALLOWED) == (
            f"{receiver.url.rsplit('/hooks', 1)[0]} answered HTTP 200"
        )
    [hook] = receiver.hooks
    assert hook.signed_with(KEY)
    assert not hook.signed_with(b"another key")
    assert hook.headers["content-type"] == "application/json"
    assert hook.headers["x-tenantbackup-delivery"] == f"{UID}.Succeeded"
    payload = json.loads(hook.body)
    assert (payload["tenant"], payload["outcome"], payload["attempts"]) == ("acme", "Succeeded", 2)
    assert payload["artifact"]["url"] == "pvc://backups/x.pgdump.zst"


def test_webhook_500_is_retried_with_backoff_then_given_up(notice: Notice) -> None:
    with WebhookReceiver(status=500) as receiver:
        started = time.monotonic()
        with pytest.raises(DeliveryError) as failure:
            with_retries(
                lambda: post_webhook(receiver.url, KEY, notice, 5, LOOPBACK_ALLOWED), 3, 0.2
            )
        elapsed = time.monotonic() - started
    assert len(receiver.hooks) == 3
    assert all(hook.signed_with(KEY) for hook in receiver.hooks)
    assert elapsed >= 0.2 + 0.4
    assert str(failure.value).endswith("answered HTTP 500 (try 3 of 3)")
    assert "secret-token" not in str(failure.value)


def test_webhook_4xx_is_not_retried(notice: Notice) -> None:
    with (
        WebhookReceiver(status=403) as receiver,
        pytest.raises(DeliveryError, match=r"HTTP 403 \(try 1 of 3\)"),
    ):
        with_retries(lambda: post_webhook(receiver.url, KEY, notice, 5, LOOPBACK_ALLOWED), 3, 0.1)
    assert len(receiver.hooks) == 1


def test_webhook_timeout_is_retryable(notice: Notice) -> None:
    with WebhookReceiver(delay=3) as receiver:
        started = time.monotonic()
        with pytest.raises(DeliveryError) as failure:
            post_webhook(receiver.url, KEY, notice, timeout=1, policy=LOOPBACK_ALLOWED)
        assert time.monotonic() - started < 2.5
    assert failure.value.retryable
    assert "timed out" in str(failure.value)
