"""The operator's follow-ups on a real API server: history rows in a real PostgreSQL, email
to a real SMTP server and webhooks to a real HTTP receiver, with the real runner dumping.

History and notifications never change a backup's outcome; they show in conditions and
Events, survive operator restarts without duplicates, and catch up when a database returns.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from devenv.kubectl import KubectlRunner
from devenv.postgres import PostgresServer
from devenv.processes import free_port
from devenv.waiting import wait_for
from tenant_backup.api.reasons import Reason
from tenant_backup.settings import Settings
from tests.support import backups as tb
from tests.support.history import rows, settings_for
from tests.support.operator_fixtures import StartOperator
from tests.support.receivers import SmtpReceiver, WebhookReceiver, self_signed_certificate

Apply = Callable[..., Any]
SMTP_LOGIN = ("backup-bot", "smtp-pass-4c1d")
HMAC_KEY = "hmac-key-9b2e"


def dsn(settings: Settings) -> str:
    assert settings.history_dsn is not None
    return settings.history_dsn.get_secret_value()


def condition(kubectl: KubectlRunner, namespace: str, name: str, kind: str) -> tuple[str, str]:
    found = {
        c["type"]: (c["status"], c["reason"])
        for c in tb.status(kubectl, namespace, name).get("conditions", [])
    }
    return found.get(kind, ("", ""))


def wait_condition(
    kubectl: KubectlRunner, namespace: str, name: str, kind: str, expected: tuple[str, str]
) -> dict[str, Any]:
    wait_for(
        lambda: condition(kubectl, namespace, name, kind) == expected,
        60,
        lambda: f"{kind} never {expected}: {tb.status(kubectl, namespace, name)}",
    )
    return tb.status(kubectl, namespace, name)


def attempts_of(settings: Settings, name: str) -> list[tuple[Any, ...]]:
    return [
        (r["attempt"], r["phase"], r["reason"], r["retryable"], r["artifact_url"])
        for r in rows(settings, "backup_attempts")
        if r["name"] == name
    ]


def history_metrics(port: int) -> dict[tuple[str, str, str], float] | None:
    """The operator's tenant_backup_history_* samples by (name without the prefix, namespace,
    tenant), once a read of the table succeeded."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    prefix = "tenant_backup_history_"
    samples = {
        (s.name.removeprefix(prefix), s.labels.get("namespace", ""), s.labels.get("tenant", "")): (
            s.value
        )
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith(prefix)
    }
    return samples if samples.get(("read_ok", "", "")) == 1.0 else None


def test_history_of_a_retried_success_and_a_permanent_failure(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    claim_dir: Path,
    tmp_path: Path,
    history: Settings,
) -> None:
    metrics = free_port()
    start_operator(history_dsn=dsn(history), extra_args=[f"--metrics-port={metrics}"])
    apply(tb.manifest())
    apply(tb.manifest(name="broken", tenant="acme_eu"))  # one tenant never runs twice at once
    tb.fail_attempt(kubectl, namespace, "nightly-1", Reason.LOCK_TIMEOUT)
    tb.fail_attempt(kubectl, namespace, "broken-1", Reason.PERMISSION_DENIED)
    tb.run_real_attempt(kubectl, namespace, "nightly-2", secret, claim_dir, tmp_path)
    tb.wait_phase(kubectl, namespace, "nightly", "Succeeded")
    tb.wait_phase(kubectl, namespace, "broken", "Failed")
    recorded = ("True", "HistoryRecorded")
    nightly = wait_condition(kubectl, namespace, "nightly", "HistoryRecorded", recorded)
    broken = wait_condition(kubectl, namespace, "broken", "HistoryRecorded", recorded)
    assert nightly["history"] == {"phase": "Succeeded", "attempts": 2, "finishedAttempts": 2}
    uid = tb.get(kubectl, namespace, "tb", "nightly")["metadata"]["uid"]
    artifact = nightly["artifact"]

    by_name = {row["name"]: row for row in rows(history, "backups")}
    assert set(by_name) == {"nightly", "broken"}
    row = by_name["nightly"]
    assert (row["uid"], row["namespace"], row["tenant"]) == (uid, namespace, "acme")
    assert (row["phase"], row["reason"], row["attempts"]) == ("Succeeded", "Succeeded", 2)
    assert (row["artifact_url"], row["size_bytes"], row["sha256"]) == (
        artifact["url"],
        artifact["sizeBytes"],
        artifact["sha256"],
    )
    assert row["server_version"] == nightly["source"]["serverVersion"]
    assert row["pg_dump_version"] == nightly["source"]["pgDumpVersion"]
    assert row["started_at"].isoformat().replace("+00:00", "Z") == nightly["startTime"]
    assert row["finished_at"].isoformat().replace("+00:00", "Z") == nightly["completionTime"]
    assert (by_name["broken"]["phase"], by_name["broken"]["reason"]) == (
        "Failed",
        "PermissionDenied",
    )
    assert by_name["broken"]["artifact_url"] is None
    assert broken["history"] == {"phase": "Failed", "attempts": 1, "finishedAttempts": 1}

    assert attempts_of(history, "nightly") == [
        (1, "Failed", "LockTimeout", True, None),
        (2, "Succeeded", "Succeeded", False, artifact["url"]),
    ]

    # The history table's metrics outlive the objects: the alert on them still sees acme's
    # last success and acme_eu, which never succeeded, once both TenantBackups are gone.
    kubectl("delete", "-n", namespace, "tb", "nightly", "broken")
    history_samples = wait_for(lambda: history_metrics(metrics), 30, "the history metrics")
    finished = row["finished_at"].timestamp()
    assert history_samples[("last_success_timestamp_seconds", namespace, "acme")] == finished
    assert ("last_success_timestamp_seconds", namespace, "acme_eu") not in history_samples
    first_broken = by_name["broken"]["started_at"].timestamp()
    assert history_samples[("first_recorded_timestamp_seconds", namespace, "acme_eu")] == (
        first_broken
    )
    assert attempts_of(history, "broken") == [(1, "Failed", "PermissionDenied", False, None)]


def test_operator_restart_mid_backup_does_not_duplicate_rows(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    claim_dir: Path,
    tmp_path: Path,
    history: Settings,
) -> None:
    operator = start_operator(history_dsn=dsn(history))
    apply(tb.manifest())
    tb.running_pod(kubectl, namespace, "nightly-1")
    wait_for(
        lambda: attempts_of(history, "nightly") == [(1, "Running", None, None, None)],
        30,
        "the running attempt was never recorded",
        ignore=(psycopg.errors.UndefinedTable,),
    )
    operator.kill()
    tb.run_real_attempt(kubectl, namespace, "nightly-1", secret, claim_dir, tmp_path)
    operator.start()
    tb.wait_phase(kubectl, namespace, "nightly", "Succeeded")
    wait_condition(kubectl, namespace, "nightly", "HistoryRecorded", ("True", "HistoryRecorded"))
    assert [(r["name"], r["phase"], r["attempts"]) for r in rows(history, "backups")] == [
        ("nightly", "Succeeded", 1)
    ]
    [(attempt, phase, reason, _, url)] = attempts_of(history, "nightly")
    assert (attempt, phase, reason) == (1, "Succeeded", "Succeeded")
    assert url == tb.status(kubectl, namespace, "nightly")["artifact"]["url"]


def test_history_database_down_then_back(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    claim_dir: Path,
    tmp_path: Path,
) -> None:
    """Its own PostgreSQL server, stopped and started again: the session's is shared."""
    server = PostgresServer()
    try:
        server.start()
        server.create_database("history")
        settings = settings_for(server, "history")
        start_operator(history_dsn=dsn(settings))
        server.stop()
        apply(tb.manifest())
        tb.run_real_attempt(kubectl, namespace, "nightly-1", secret, claim_dir, tmp_path)
        status = tb.wait_phase(kubectl, namespace, "nightly", "Succeeded")
        unavailable = ("False", "HistoryUnavailable")
        status = wait_condition(kubectl, namespace, "nightly", "HistoryRecorded", unavailable)
        assert status["phase"] == "Succeeded"
        assert "history" not in status
        wait_for(
            lambda: "HistoryUnavailable" in tb.event_reasons(kubectl, namespace),
            30,
            "no HistoryUnavailable Event",
        )
        assert tb.event_reasons(kubectl, namespace).count("HistoryUnavailable") == 1
        assert server.superuser.password not in json.dumps(status)

        server.start()
        recorded = ("True", "HistoryRecorded")
        status = wait_condition(kubectl, namespace, "nightly", "HistoryRecorded", recorded)
        assert status["phase"] == "Succeeded"
        assert status["history"] == {"phase": "Succeeded", "attempts": 1, "finishedAttempts": 1}
        assert [(r["name"], r["phase"]) for r in rows(settings, "backups")] == [
            ("nightly", "Succeeded")
        ]
        assert [(a[0], a[1]) for a in attempts_of(settings, "nightly")] == [(1, "Succeeded")]
        assert tb.job_names(kubectl, namespace) == ["nightly-1"]
    finally:
        server.destroy()


@pytest.fixture
def smtp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpReceiver]:
    """STARTTLS with AUTH; the operator processes started later trust its certificate."""
    cert = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))
    with SmtpReceiver(cert=cert, login=SMTP_LOGIN) as receiver:
        yield receiver


def notification_secrets(kubectl: KubectlRunner, namespace: str, smtp_port: int) -> None:
    tb.create_secret(
        kubectl,
        namespace,
        "smtp",
        {
            "host": "127.0.0.1",
            "port": str(smtp_port),
            "from": "backups@example.com",
            "username": SMTP_LOGIN[0],
            "password": SMTP_LOGIN[1],
        },
    )
    tb.create_secret(kubectl, namespace, "hook", {"hmacKey": HMAC_KEY})


def test_email_and_webhook_sent_once_across_a_restart(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    claim_dir: Path,
    tmp_path: Path,
    smtp: SmtpReceiver,
) -> None:
    notification_secrets(kubectl, namespace, smtp.port)
    with WebhookReceiver() as hook:
        operator = start_operator()
        apply(
            tb.manifest(
                notifications={
                    "email": {"to": ["ops@example.com"], "smtpSecretRef": {"name": "smtp"}},
                    "webhook": {"url": hook.url, "secretRef": {"name": "hook"}},
                }
            )
        )
        tb.run_real_attempt(kubectl, namespace, "nightly-1", secret, claim_dir, tmp_path)
        tb.wait_phase(kubectl, namespace, "nightly", "Succeeded")
        status = wait_condition(kubectl, namespace, "nightly", "Notified", ("True", "Notified"))
        operator.stop()
        operator.start()
        time.sleep(4)  # several resyncs and the resume of every backup
    assert [d["state"] for d in status["notifications"]] == ["Sent", "Sent"]

    [mail] = smtp.mails
    assert (mail.tls, mail.login, mail.rcpt_tos) == (True, SMTP_LOGIN[0], ["ops@example.com"])
    assert mail.message["Subject"] == f"[TenantBackup] acme Succeeded: {namespace}/nightly"
    body = mail.message.get_content()
    assert f"Artifact:  {status['artifact']['url']}" in body
    assert f"Size:      {status['artifact']['size']}" in body

    [received] = hook.hooks
    assert received.signed_with(HMAC_KEY.encode())
    payload = json.loads(received.body)
    assert (payload["outcome"], payload["tenant"]) == ("Succeeded", "acme")
    assert payload["artifact"]["sha256"] == status["artifact"]["sha256"]

    assert tb.event_reasons(kubectl, namespace).count("Notified") == 2
    written = json.dumps(status) + json.dumps(tb.items(kubectl, namespace, "events"))
    for secret_text in (SMTP_LOGIN[1], HMAC_KEY, "secret-token"):
        assert secret_text not in written
    for secret_text in (SMTP_LOGIN[1], HMAC_KEY):  # the URL is in the spec kopf logs
        assert secret_text not in operator.logs()


def test_failing_webhook_is_retried_then_given_up_and_the_backup_still_succeeds(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    secret: dict[str, str],
    claim_dir: Path,
    tmp_path: Path,
) -> None:
    tb.create_secret(kubectl, namespace, "hook", {"hmacKey": HMAC_KEY})
    with WebhookReceiver(status=500) as hook:
        start_operator(notify_attempts="3", notify_backoff_seconds="0.2")
        apply(
            tb.manifest(notifications={"webhook": {"url": hook.url, "secretRef": {"name": "hook"}}})
        )
        tb.run_real_attempt(kubectl, namespace, "nightly-1", secret, claim_dir, tmp_path)
        failed = ("False", "NotificationFailed")
        status = wait_condition(kubectl, namespace, "nightly", "Notified", failed)
        time.sleep(3)
        assert len(hook.hooks) == 3
    assert all(h.signed_with(HMAC_KEY.encode()) for h in hook.hooks)
    assert (status["phase"], status["reason"]) == ("Succeeded", "Succeeded")
    conditions = {c["type"]: c["status"] for c in status["conditions"]}
    assert (conditions["Complete"], conditions["Ready"], conditions["Failed"]) == (
        "True",
        "True",
        "False",
    )
    [delivery] = status["notifications"]
    assert delivery["state"] == "Failed"
    assert delivery["message"].endswith("answered HTTP 500 (try 3 of 3)")
    assert "secret-token" not in delivery["message"]
    wait_for(
        lambda: "NotificationFailed" in tb.event_reasons(kubectl, namespace),
        30,
        "no NotificationFailed Event",
    )
