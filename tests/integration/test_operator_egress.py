"""The operator's own connections on a real API server: with its default egress policy a
namespace user cannot make it connect to loopback or link-local addresses (webhook, SMTP,
preflight database), the backup's outcome is unchanged, and status and Events show fixed
texts, never raw socket errors."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devenv.kubectl import KubectlRunner
from devenv.waiting import wait_for
from tenant_backup.api.reasons import Reason
from tests.support import backups as tb
from tests.support.operator_fixtures import StartOperator
from tests.support.receivers import ConnectionRecorder, SmtpReceiver, WebhookReceiver

Apply = Callable[..., Any]
NOT_ALLOWED = "DestinationNotAllowed: the operator may not connect there"
RAW_ERRORS = re.compile(r"Errno|\[SSL|refused by|getaddrinfo|Name or service")


def notifications(webhook_url: str) -> dict[str, Any]:
    return {
        "email": {"to": ["ops@example.com"], "smtpSecretRef": {"name": "smtp"}},
        "webhook": {"url": webhook_url, "secretRef": {"name": "hook"}},
    }


def smtp_secret(kubectl: KubectlRunner, namespace: str, host: str, port: int) -> None:
    data = {"host": host, "port": str(port), "from": "backups@example.com"}
    tb.create_secret(kubectl, namespace, "smtp", data)
    tb.create_secret(kubectl, namespace, "hook", {"hmacKey": "hmac-key-1"})


def deliveries(kubectl: KubectlRunner, namespace: str) -> dict[str, str]:
    """Channel → state and message, once both channels have failed or succeeded."""

    def settled() -> dict[str, Any] | None:
        status = tb.status(kubectl, namespace, "nightly")
        done = [d for d in status.get("notifications", []) if d["state"] != "Sending"]
        return status if len(done) == 2 else None

    found: dict[str, Any] = wait_for(settled, 60, "the two channels never settled")
    return {d["channel"]: f"{d['state']}: {d['message']}" for d in found["notifications"]}


def event_messages(kubectl: KubectlRunner, namespace: str, reason: str) -> list[str]:
    events = tb.items(kubectl, namespace, "events")
    return [e["message"] for e in events if e["reason"] == reason]


def test_default_policy_refuses_loopback_for_every_channel_and_the_backup_succeeds(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    run_attempt: Callable[[str], None],
    secret: dict[str, str],
) -> None:
    """Webhook, SMTP and the tenant database all on 127.0.0.1: the operator connects to none
    of them (the preflight is skipped, the Job still runs and decides)."""
    with SmtpReceiver() as smtp, WebhookReceiver() as hook:
        smtp_secret(kubectl, namespace, "127.0.0.1", smtp.port)
        operator = start_operator(egress_defaults=True)
        apply(tb.manifest(notifications=notifications(hook.url_via("localhost"))))
        run_attempt("nightly-1")
        status = tb.wait_phase(kubectl, namespace, "nightly", "Succeeded")
        sent = deliveries(kubectl, namespace)
    assert (status["reason"], status["attempts"]) == ("Succeeded", 1)
    assert sent == {
        "Email": f"Failed: 127.0.0.1:{smtp.port}: {NOT_ALLOWED} (its address is in a denied "
        "range) (try 1 of 3)",
        "Webhook": f"Failed: http://localhost:{hook.port}: {NOT_ALLOWED} (its address is in a "
        "denied range) (try 1 of 3)",
    }
    assert smtp.mails == []
    assert hook.hooks == []
    assert f"preflight not run against 127.0.0.1:{secret['port']}: DestinationNotAllowed" in (
        operator.logs()
    )
    wait_for(
        lambda: len(event_messages(kubectl, namespace, "NotificationFailed")) == 2,
        30,
        "no NotificationFailed Events",
    )
    for message in event_messages(kubectl, namespace, "NotificationFailed"):
        assert "DestinationNotAllowed" in message


def test_link_local_destinations_are_refused_even_where_loopback_is_allowed(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    claim_dir: Path,
    link_local: str,
) -> None:
    """The database and the webhook on a link-local address record no connection; the SMTP
    relay on a closed loopback port fails as `connection refused`; the backup fails for its
    own reason only."""
    with ConnectionRecorder(link_local) as database, ConnectionRecorder(link_local) as hook:
        tb.create_secret(
            kubectl,
            namespace,
            tb.SECRET_NAME,
            {"host": link_local, "port": str(database.port), "dbname": "app",
             "username": "backup", "password": "db-pass-31"},
        )  # fmt: skip
        with ConnectionRecorder() as gone:
            closed = gone.port
        smtp_secret(kubectl, namespace, "127.0.0.1", closed)
        start_operator(notify_attempts="2", notify_backoff_seconds="0.1")
        apply(tb.manifest(notifications=notifications(f"http://{link_local}:{hook.port}/h")))
        tb.fail_attempt(kubectl, namespace, "nightly-1", Reason.PERMISSION_DENIED)
        status = tb.wait_phase(kubectl, namespace, "nightly", "Failed")
        sent = deliveries(kubectl, namespace)
        assert database.peers == []
        assert hook.peers == []
    assert status["reason"] == "PermissionDenied"
    assert sent == {
        "Email": f"Failed: 127.0.0.1:{closed}: connection refused (try 2 of 2)",
        "Webhook": f"Failed: http://{link_local}:{hook.port}: {NOT_ALLOWED} (its address is in "
        "a denied range) (try 1 of 2)",
    }
    written = json.dumps(tb.status(kubectl, namespace, "nightly"))
    written += json.dumps(tb.items(kubectl, namespace, "events"))
    assert not RAW_ERRORS.search(written)
    assert "db-pass-31" not in written


def test_the_preflight_asks_for_a_bare_service_name_in_the_backups_namespace(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
) -> None:
    """A CloudNativePG-style Secret names the Service bare (`acme-db-rw`): the Job resolves it
    in its own namespace, the operator asks its outbound gate for `acme-db-rw.<ns>.svc`."""
    tb.create_secret(
        kubectl,
        namespace,
        tb.SECRET_NAME,
        {"host": "acme-db-rw", "port": "5432", "dbname": "app",
         "username": "backup", "password": "db-pass-31"},
    )  # fmt: skip
    operator = start_operator()
    apply(tb.manifest())
    wait_for(lambda: tb.job_names(kubectl, namespace) == ["nightly-1"], 60, "no Job")
    job = tb.items(kubectl, namespace, "jobs")[0]
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    ref = env["PGHOST"]["valueFrom"]["secretKeyRef"]
    assert (ref["name"], ref["key"]) == (tb.SECRET_NAME, "host")  # the Job's host is unchanged
    assert f"preflight not run against acme-db-rw.{namespace}.svc:5432: " in operator.logs()
    assert "against acme-db-rw:" not in operator.logs()
