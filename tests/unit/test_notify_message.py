"""What a notification says, and the parts of sending that need no network."""

import hashlib
import hmac
import json
from email import message_from_string

import pytest

from tenant_backup.adapters.notify.email import compose, smtp_server
from tenant_backup.adapters.notify.retry import DeliveryError, with_retries
from tenant_backup.adapters.notify.webhook import receiver
from tenant_backup.api.notifications import SmtpTls
from tenant_backup.api.reasons import Reason
from tenant_backup.backup.notice import notice_for
from tenant_backup.backup.size_check import with_size_check
from tenant_backup.core.notice import human_duration, sign
from tests.support.factories import UID
from tests.support.lifecycles import lifecycle


def test_success_notice_for_people_and_programs() -> None:
    notice = notice_for(lifecycle([Reason.LOCK_TIMEOUT])[-1])
    assert notice.subject == "[TenantBackup] acme Succeeded: team-a/nightly"
    assert notice.delivery_id == f"{UID}.Succeeded"
    lines = dict(line.split(":", 1) for line in notice.text.splitlines())
    facts = {key: value.strip() for key, value in lines.items()}
    assert facts["Tenant"] == "acme"
    assert facts["Outcome"] == "Succeeded"
    assert facts["Artifact"] == "pvc://backups/x.pgdump.zst"
    assert facts["Size"] == "4.0KiB (4096 bytes)"
    assert facts["Attempts"] == "2 of 3"
    assert facts["Duration"] == "11m2s"
    payload = json.loads(notice.payload)
    assert payload["outcome"] == "Succeeded"
    assert payload["artifact"]["sha256"] == "a" * 64
    assert payload["durationSeconds"] == 662
    assert payload["uid"] == UID


def test_failure_notice_has_reason_and_no_artifact() -> None:
    notice = notice_for(lifecycle([], Reason.PERMISSION_DENIED)[-1])
    assert notice.subject == "[TenantBackup] acme Failed: team-a/nightly"
    assert "Reason:    PermissionDenied" in notice.text
    assert "Artifact:  -" in notice.text
    assert json.loads(notice.payload)["artifact"] is None


def test_signature_is_hmac_sha256_of_the_exact_body() -> None:
    body = notice_for(lifecycle([])[-1]).payload
    expected = hmac.new(b"k3y", body, hashlib.sha256).hexdigest()
    assert sign(b"k3y", body) == f"sha256={expected}"
    assert sign(b"other", body) != sign(b"k3y", body)


@pytest.mark.parametrize(("seconds", "text"), [(5, "5s"), (65, "1m5s"), (3725, "1h2m5s")])
def test_human_duration(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_webhook_receiver_is_shown_without_path_or_credentials() -> None:
    shown = receiver("https://user:pw@hooks.example.com:8443/services/T0/B0/secret-token?x=1")
    assert shown == "https://hooks.example.com:8443"


def test_smtp_secret_checked_and_password_never_shown() -> None:
    with pytest.raises(DeliveryError, match="lacks: from, password"):
        smtp_server({"host": "mail", "username": "u"}, SmtpTls.STARTTLS)
    server = smtp_server(
        {"host": "mail", "from": "b@x.org", "username": "u", "password": "hunter2"}, SmtpTls.TLS
    )
    assert server.port == 465
    assert "hunter2" not in repr(server)
    message = compose(server, ["a@x.org", "c@x.org"], notice_for(lifecycle([])[-1]))
    parsed = message_from_string(message.as_string())
    assert parsed["To"] == "a@x.org, c@x.org"
    assert parsed["Message-ID"] == f"<{UID}.Succeeded@tenantbackup.dev>"
    assert "hunter2" not in message.as_string()


def test_retries_back_off_and_stop_on_permanent_errors() -> None:
    waits: list[float] = []
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise DeliveryError("HTTP 503", retryable=True)
        return "ok"

    assert with_retries(flaky, 3, 2.0, sleep=waits.append) == "ok"
    assert waits == [2.0, 4.0]

    def refused() -> str:
        calls.append(1)
        raise DeliveryError("HTTP 404", retryable=False)

    calls.clear()
    with pytest.raises(DeliveryError, match=r"HTTP 404 \(try 1 of 5\)"):
        with_retries(refused, 5, 1.0, sleep=waits.append)
    assert len(calls) == 1


def test_a_shrunken_artifact_is_flagged_in_status_events_and_the_notice() -> None:
    check = {"previousBackup": "nightly-prev", "previousSizeBytes": 100_000}
    states = lifecycle([], sizeCheck=check)
    done = states[-1]
    anomaly = {c.type.value: c for c in done.status.conditions}["SizeAnomaly"]
    assert (anomaly.status, anomaly.reason) == ("True", "SizeAnomaly")
    assert "4.0KiB" in anomaly.message
    assert "4%" in anomaly.message
    assert "nightly-prev" in anomaly.message
    notice = notice_for(done)
    assert notice.subject == "[TenantBackup] acme Succeeded (size anomaly): team-a/nightly"
    assert json.loads(notice.payload)["sizeAnomaly"] == anomaly.message
    assert "Warning:" in notice.text


def test_an_artifact_of_the_usual_size_is_not_flagged() -> None:
    done = lifecycle([], sizeCheck={"previousBackup": "p", "previousSizeBytes": 5000})[-1]
    anomaly = {c.type.value: c for c in done.status.conditions}["SizeAnomaly"]
    assert (anomaly.status, anomaly.reason) == ("False", "SizeAsExpected")
    notice = notice_for(done)
    assert "size anomaly" not in notice.subject
    assert json.loads(notice.payload)["sizeAnomaly"] is None


def test_the_first_flagging_posts_one_warning_event() -> None:
    done = lifecycle([], sizeCheck={"previousBackup": "p", "previousSizeBytes": 100_000})[-1]
    check, artifact = done.spec.size_check, done.status.artifact
    assert done.status.completion_time is not None
    now = done.status.completion_time
    fresh, events = with_size_check([], check, artifact, now, 1)
    assert [(event.type, event.reason) for event in events] == [("Warning", "SizeAnomaly")]
    again, repeated = with_size_check(fresh, check, artifact, now, 1)
    assert repeated == []
    assert again == fresh
