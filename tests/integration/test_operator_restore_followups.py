"""A TenantRestore's follow-ups on a real API server, its Jobs' pods run for real: its row in
the real PostgreSQL history database and its email through a real SMTP server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devenv.kubectl import KubectlRunner
from devenv.tenants import Database
from devenv.waiting import wait_for
from tenant_backup.settings import Settings
from tests.integration.test_operator_restore import (
    restore_events,
    restore_status,
    run_restore,
    schemas,
)
from tests.support import backups as tb
from tests.support.history import rows
from tests.support.operator_fixtures import StartOperator
from tests.support.receivers import SmtpReceiver, self_signed_certificate

Apply = Callable[..., Any]
SMTP_LOGIN = ("restore-bot", "smtp-pass-77e1")


@pytest.fixture
def smtp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpReceiver]:
    """STARTTLS with AUTH; the operator processes started later trust its certificate."""
    cert = self_signed_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))
    with SmtpReceiver(cert=cert, login=SMTP_LOGIN) as receiver:
        yield receiver


def conditions(kubectl: KubectlRunner, namespace: str, name: str) -> dict[str, tuple[str, str]]:
    return {
        c["type"]: (c["status"], c["reason"])
        for c in restore_status(kubectl, namespace, name).get("conditions", [])
    }


def test_a_finished_restore_is_recorded_and_notified_once(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    tenant_db: Database,
    claim_dir: Path,
    tmp_path: Path,
    history: Settings,
    smtp: SmtpReceiver,
) -> None:
    secret = tb.create_db_secret(kubectl, namespace, tenant_db)
    tb.create_restore_secret(kubectl, namespace, tenant_db)
    tb.create_secret(
        kubectl,
        namespace,
        "smtp",
        {
            "host": "127.0.0.1",
            "port": str(smtp.port),
            "from": "restores@example.com",
            "username": SMTP_LOGIN[0],
            "password": SMTP_LOGIN[1],
        },
    )
    assert history.history_dsn is not None
    operator = start_operator(history_dsn=history.history_dsn.get_secret_value())
    apply(tb.manifest())
    tb.run_real_attempt(kubectl, namespace, "nightly-1", secret, claim_dir, tmp_path)
    tb.wait_phase(kubectl, namespace, "nightly", "Succeeded")
    email = {"to": ["dba@example.com"], "smtpSecretRef": {"name": "smtp"}}
    apply(tb.tenant_restore("copy", {"backupRef": {"name": "nightly"}},
                            notifications={"email": email}))  # fmt: skip
    run_restore(kubectl, namespace, "copy-1-restore", tenant_db, claim_dir, tmp_path / "r")
    status = tb.wait_restore(kubectl, namespace, "copy", "Succeeded")
    wait_for(  # settled: a notification is Unknown/Sending between its claim and its answer
        lambda: all(
            conditions(kubectl, namespace, "copy").get(kind, ("Unknown",))[0] != "Unknown"
            for kind in ("HistoryRecorded", "Notified")
        ),
        60,
        lambda: f"no follow-ups: {restore_status(kubectl, namespace, 'copy')}",
    )
    found = conditions(kubectl, namespace, "copy")
    assert found["HistoryRecorded"] == ("True", "HistoryRecorded")
    assert found["Notified"] == ("True", "Notified")
    operator.stop()
    operator.start()  # nothing is recorded or sent twice after a restart
    time.sleep(4)  # several resyncs

    [row] = rows(history, "restores")
    uid = tb.get(kubectl, namespace, "tenantrestore", "copy")["metadata"]["uid"]
    assert (row["uid"], row["namespace"], row["name"], row["mode"]) == (
        uid,
        namespace,
        "copy",
        "CreateNew",
    )
    assert (row["source_backup"], row["source_tenant"], row["target_tenant"]) == (
        "nightly",
        "acme",
        "acme_copy",
    )
    assert (row["phase"], row["reason"], row["target_schema"]) == (
        "Succeeded",
        "Succeeded",
        "tenant_acme_copy",
    )
    assert (row["tables"], row["rows"]) == (status["tables"], status["rows"])
    assert row["rows"] > 0
    assert row["duration_seconds"] is not None
    assert row["sha256"] == status["source"]["sha256"]

    [mail] = smtp.mails
    assert mail.rcpt_tos == ["dba@example.com"]
    assert mail.message["Subject"] == (
        f"[TenantRestore] acme_copy CreateNew Succeeded: {namespace}/copy"
    )
    assert f"Restored:  {status['tables']} tables, {status['rows']} rows" in (
        mail.message.get_content()
    )
    assert SMTP_LOGIN[1] not in operator.logs()


def test_the_previous_schema_is_dropped_once_kept_long_enough_with_no_other_restore(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    tenant_db: Database,
    claim_dir: Path,
    tmp_path: Path,
) -> None:
    secret = tb.create_db_secret(kubectl, namespace, tenant_db)
    tb.create_restore_secret(kubectl, namespace, tenant_db)
    start_operator()
    apply(tb.manifest())
    tb.run_real_attempt(kubectl, namespace, "nightly-1", secret, claim_dir, tmp_path)
    tb.wait_phase(kubectl, namespace, "nightly", "Succeeded")
    target = {"database": {"secretRef": {"name": tb.RESTORE_SECRET_NAME}}, "tenant": "acme"}
    apply(tb.tenant_restore("undo", {"backupRef": {"name": "nightly"}}, target=target,
                            mode="Replace", confirm="acme", keepPreviousFor="5s"))  # fmt: skip
    run_restore(kubectl, namespace, "undo-1-restore", tenant_db, claim_dir, tmp_path / "r")
    status = tb.wait_restore(kubectl, namespace, "undo", "Succeeded")
    previous = status["previousSchema"]
    assert previous in schemas(tenant_db)
    assert "previousSchemaDropped" not in status

    def dropped() -> dict[str, Any] | None:
        found = restore_status(kubectl, namespace, "undo")
        return found if found.get("previousSchemaDropped") else None

    status = wait_for(
        dropped, 60, lambda: f"never dropped: {restore_status(kubectl, namespace, 'undo')}"
    )
    assert previous not in schemas(tenant_db)
    assert "tenant_acme" in schemas(tenant_db)
    assert status["previousSchemaDropped"] >= status["previousKeptUntil"]
    assert conditions(kubectl, namespace, "undo")["PreviousSchemaDropped"] == (
        "True",
        "PreviousSchemaDropped",
    )
    wait_for(
        lambda: "PreviousSchemaDropped" in restore_events(kubectl, namespace),
        30,
        "no PreviousSchemaDropped Event",
    )
    assert tb.job_names(kubectl, namespace) == ["nightly-1", "undo-1-restore"]
