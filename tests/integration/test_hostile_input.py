"""A corpus of hostile TenantBackups: each is refused at admission with a message naming the
field, or ends Failed with a clear reason, creating no Job and writing nothing; meanwhile the
operator keeps serving a well-formed backup."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from devenv.kubectl import KubectlRunner
from devenv.pod_executor import end_pod, run_dump_container
from devenv.tenants import Database
from tests.support import backups as tb
from tests.support.operator_fixtures import StartOperator

Apply = Callable[..., Any]
BASE: dict[str, Any] = {
    "tenant": "acme",
    "database": {"secretRef": {"name": tb.SECRET_NAME}},
    "destination": {"pvc": {"claimName": tb.CLAIM_NAME, "path": "nightly"}},
}


def at(path: str, value: Any) -> dict[str, Any]:
    """BASE with one dotted path set to `value` (created as needed)."""
    spec = copy.deepcopy(BASE)
    *parents, leaf = path.split(".")
    node = spec
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value
    return spec


def without(path: str) -> dict[str, Any]:
    spec = copy.deepcopy(BASE)
    *parents, leaf = path.split(".")
    node = spec
    for key in parents:
        node = node[key]
    del node[leaf]
    return spec


def telegram(**fields: Any) -> dict[str, Any]:
    return {"telegram": {"chatId": -100, "secretRef": {"name": "bot"}} | fields}


# (case id, spec, text the API server's message must contain: the field it names)
REJECTED: list[tuple[str, dict[str, Any], str]] = [
    ("slug-sql-quote", at("tenant", "acme'; DROP SCHEMA tenant_acme; --"), "spec.tenant"),
    ("slug-double-quote", at("tenant", 'acme"x'), "spec.tenant"),
    ("slug-shell-substitution", at("tenant", "$(rm -rf /)"), "spec.tenant"),
    ("slug-backticks", at("tenant", "`id`"), "spec.tenant"),
    ("slug-regex-wildcard", at("tenant", "acme.*"), "spec.tenant"),
    ("slug-pattern-plus", at("tenant", "a+b"), "spec.tenant"),
    ("slug-newline", at("tenant", "acme\nglobex"), "spec.tenant"),
    ("slug-nul-byte", at("tenant", "acme\u0000"), "spec.tenant"),
    ("slug-cyrillic-a", at("tenant", "\u0430cme"), "spec.tenant"),
    ("slug-fullwidth", at("tenant", "\uff41cme"), "spec.tenant"),
    ("slug-huge", at("tenant", "a" * 100_000), "spec.tenant"),
    ("slug-number", at("tenant", 123), "spec.tenant"),
    ("slug-null", at("tenant", None), "spec.tenant"),
    ("slug-list", at("tenant", ["acme", "globex"]), "spec.tenant"),
    ("path-dotdot", at("destination.pvc.path", "../../etc"), "spec.destination.pvc.path"),
    ("path-inner-dotdot", at("destination.pvc.path", "a/../../b"), "spec.destination.pvc.path"),
    ("path-absolute", at("destination.pvc.path", "/etc/cron.d"), "spec.destination.pvc.path"),
    ("path-hidden", at("destination.pvc.path", ".ssh"), "spec.destination.pvc.path"),
    ("path-double-slash", at("destination.pvc.path", "a//b"), "spec.destination.pvc.path"),
    ("path-shell", at("destination.pvc.path", "x;touch /tmp/p"), "spec.destination.pvc.path"),
    ("path-huge", at("destination.pvc.path", "a" * 5000), "spec.destination.pvc.path"),
    (
        "claim-injection",
        at("destination.pvc.claimName", "b;rm -rf /"),
        "spec.destination.pvc.claimName",
    ),
    (
        "claim-uppercase",
        at("destination.pvc.claimName", "Backups"),
        "spec.destination.pvc.claimName",
    ),
    ("secret-name-traversal", at("database.secretRef.name", "../kube-system/x"), "secretRef.name"),
    ("secret-name-empty", at("database.secretRef.name", ""), "secretRef.name"),
    ("inline-password", at("database.password", "hunter2"), "spec.database.password"),
    (
        "inline-uri-with-credentials",
        at("database.uri", "postgres://u:p@db/app"),
        "spec.database.uri",
    ),
    ("inline-host", at("database.host", "evil.example"), "spec.database.host"),
    ("sslmode-bogus", at("database.sslMode", "disable; x"), "spec.database.sslMode"),
    ("format-option-injection", at("dump.format", "custom --file=/etc/passwd"), "spec.dump.format"),
    ("compression-shell", at("dump.compression", "zstd|sh"), "spec.dump.compression"),
    ("compression-level-huge", at("dump.compressionLevel", 10**12), "spec.dump.compressionLevel"),
    ("compression-level-string", at("dump.compressionLevel", "9"), "spec.dump.compressionLevel"),
    ("attempts-negative", at("retry.maxAttempts", -1), "spec.retry.maxAttempts"),
    ("attempts-huge", at("retry.maxAttempts", 10**15), "spec.retry.maxAttempts"),
    ("attempts-float", at("retry.maxAttempts", 2.5), "spec.retry.maxAttempts"),
    ("backoff-huge", at("retry.backoffSeconds", 10**9), "spec.retry.backoffSeconds"),
    (
        "deadline-zero",
        at("timeouts.activeDeadlineSeconds", 0),
        "spec.timeouts.activeDeadlineSeconds",
    ),
    ("deadline-years", at("timeouts.activeDeadlineSeconds", 10**9), "activeDeadlineSeconds"),
    ("lock-wait-zero", at("timeouts.lockWaitTimeoutSeconds", 0), "lockWaitTimeoutSeconds"),
    ("deletion-policy-bogus", at("deletionPolicy", "Purge"), "spec.deletionPolicy"),
    ("destination-missing", without("destination"), "spec.destination"),
    ("destination-string", at("destination", "pvc://backups"), "spec.destination"),
    ("destination-empty", at("destination", {}), "exactly one destination"),
    ("unknown-command-field", at("command", ["sh", "-c", "id"]), "spec.command"),
    ("unknown-image-field", at("image", "evil/image"), "spec.image"),
    ("unknown-pod-override", at("podTemplate", {"hostPID": True}), "spec.podTemplate"),
    ("database-missing", without("database"), "spec.database"),
    ("telegram-inline-token", at("destination", telegram(botToken="1:x")), "telegram.botToken"),
    ("telegram-url-userinfo", at("destination", telegram(apiUrl="https://u:p@h")), "apiUrl"),
    ("telegram-url-file", at("destination", telegram(apiUrl="file:///etc/passwd")), "apiUrl"),
    ("telegram-chat-shell", at("destination", telegram(chatId="-1;id")), "telegram.chatId"),
]


@pytest.mark.parametrize(("spec", "field"), [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED])
def test_rejected_at_admission_naming_the_field(
    apply: Apply, kubectl: KubectlRunner, namespace: str, spec: dict[str, Any], field: str
) -> None:
    result = apply(tb.tenant_backup("hostile", spec), check=False)
    assert result.returncode != 0, "the API server accepted it"
    assert field in result.stderr
    assert tb.items(kubectl, namespace, "tenantbackups") == []


def test_corpus_is_large_enough() -> None:
    assert len(REJECTED) + len(RUNTIME) >= 40


def secret_with(kubectl: KubectlRunner, namespace: str, name: str, data: dict[str, str]) -> None:
    kubectl(
        "create",
        "secret",
        "generic",
        "-n",
        namespace,
        name,
        *[f"--from-literal={key}={value}" for key, value in data.items()],
    )


# Accepted by the API server, refused by the operator's checks before any Job exists:
# (case id, spec changes, Secret data changes (None: no Secret at all), reason)
RUNTIME: list[tuple[str, dict[str, Any], dict[str, str] | None, str]] = [
    ("tenant-without-schema", {"tenant": "nosuch"}, {}, "TenantNotFound"),
    ("tenant-prefix-of-another", {"tenant": "acm"}, {}, "TenantNotFound"),
    ("secret-absent", {}, None, "SecretMissing"),
    ("secret-without-password", {}, {"password": ""}, "SecretMissing"),
    ("dbname-sql-injection", {}, {"dbname": "app' OR '1'='1"}, "TenantNotFound"),
    ("username-injection", {}, {"username": 'x" OR 1=1; --'}, "AuthFailed"),
    ("wrong-password", {}, {"password": "not-the-password"}, "AuthFailed"),
]


def test_runtime_refusals_create_no_job_and_write_nothing_while_others_succeed(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    shared_tenant_db: Database,
    tmp_path: Path,
) -> None:
    claim = tb.create_bound_claim(kubectl, namespace, tmp_path / "claim")
    good = tb.create_db_secret(kubectl, namespace, shared_tenant_db)
    start_operator()
    for index, (_, spec, secret_changes, _) in enumerate(RUNTIME):
        secret_name = f"hostile-{index}"
        if secret_changes is not None:
            secret_with(kubectl, namespace, secret_name, good | secret_changes)
        body = copy.deepcopy(BASE) | spec
        body["database"] = {"secretRef": {"name": secret_name}}
        apply(tb.tenant_backup(f"hostile-{index}", body))
    apply(tb.tenant_backup("good", BASE))
    pod = tb.running_pod(kubectl, namespace, "good-1")
    code, message = run_dump_container(pod, good, claim, tmp_path)
    end_pod(kubectl, namespace, pod["metadata"]["name"], code, message)
    assert tb.wait_phase(kubectl, namespace, "good", "Succeeded")["attempts"] == 1
    for index, (case, _, _, reason) in enumerate(RUNTIME):
        status = tb.wait_phase(kubectl, namespace, f"hostile-{index}", "Failed")
        assert (case, status["reason"]) == (case, reason)
        assert status["message"], case
        assert status["attempts"] == 0
    jobs = [j["metadata"]["name"] for j in tb.items(kubectl, namespace, "jobs")]
    assert jobs == ["good-1"]
    written = [p.relative_to(claim) for p in claim.rglob("*") if p.is_file()]
    assert len(written) == 1
    assert str(written[0]).startswith("nightly/acme/acme-")
    events = json.dumps(tb.items(kubectl, namespace, "events"))
    assert "not-the-password" not in events
