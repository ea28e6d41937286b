"""The API server itself enforces the TenantBackup schema, CEL rules and immutability."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from devenv.kubectl import KubectlRunner
from tests.support.factories import backup_body

Apply = Callable[..., Any]


def manifest(name: str = "nightly", **spec: Any) -> dict[str, Any]:
    body = backup_body(name=name, **spec)
    body["metadata"] = {"name": name}
    return body


def rejected(apply: Apply, body: dict[str, Any]) -> str:
    result = apply(body, check=False)
    assert result.returncode != 0, f"accepted: {body['spec']}"
    return str(result.stderr)


def test_valid_backup_is_accepted_with_defaults_and_printer_columns(
    apply: Apply, kubectl: KubectlRunner, namespace: str
) -> None:
    apply(manifest())
    stored = kubectl("get", "-n", namespace, "tb", "nightly", "-o", "json").stdout
    assert '"maxAttempts": 3' in stored
    assert '"compression": "zstd"' in stored
    table = kubectl("get", "-n", namespace, "tenantbackups").stdout.splitlines()
    assert table[0].split() == ["NAME", "TENANT", "PHASE", "ATTEMPTS", "SIZE", "AGE"]
    assert table[1].split()[:2] == ["nightly", "acme"]
    wide = kubectl("get", "-n", namespace, "tb", "-o", "wide").stdout.splitlines()[0]
    assert wide.split() == [
        "NAME",
        "TENANT",
        "PHASE",
        "ATTEMPTS",
        "SIZE",
        "AGE",
        "REASON",
        "ARTIFACT",
    ]


BAD_SLUGS = {
    "uppercase": "Acme",
    "quote": "acme'",
    "semicolon": "acme;drop",
    "command-substitution": "$(id)",
    "space": "ac me",
    "star": "acme*",
    "question-mark": "acme?",
    "dot": "tenant.acme",
    "dot-dot": "..",
    "leading-underscore": "_acme",
    "57-characters": "a" * 57,
    "empty": "",
}


@pytest.mark.parametrize("slug", BAD_SLUGS.values(), ids=BAD_SLUGS.keys())
def test_bad_tenant_slugs_are_rejected_naming_the_field(apply: Apply, slug: str) -> None:
    assert "spec.tenant" in rejected(apply, manifest(tenant=slug))


@pytest.mark.parametrize("attempts", [0, 11])
def test_max_attempts_out_of_bounds(apply: Apply, attempts: int) -> None:
    message = rejected(apply, manifest(retry={"maxAttempts": attempts}))
    assert "spec.retry.maxAttempts" in message


def test_any_spec_change_after_creation_is_refused(
    apply: Apply, kubectl: KubectlRunner, namespace: str
) -> None:
    original = manifest()
    apply(original)
    for change in [{"tenant": "globex"}, {"retry": {"maxAttempts": 5}}]:
        changed = copy.deepcopy(original)
        changed["spec"].update(change)
        assert "spec is immutable" in rejected(apply, changed)
    stored = kubectl("get", "-n", namespace, "tb", "nightly", "-o", "jsonpath={.spec.tenant}")
    assert stored.stdout == "acme"


@pytest.mark.parametrize(
    ("database", "field"),
    [
        ({"secretRef": {"name": "pg-app"}, "password": "hunter2"}, "spec.database.password"),
        (
            {"secretRef": {"name": "pg-app"}, "uri": "postgres://u:hunter2@db/app"},
            "spec.database.uri",
        ),
        ({"secretRef": {"name": "pg-app", "password": "hunter2"}}, "spec.database.secretRef"),
    ],
)
def test_inline_credentials_are_refused(
    apply: Apply, kubectl: KubectlRunner, namespace: str, database: dict[str, Any], field: str
) -> None:
    message = rejected(apply, manifest(database=database))
    assert field in message
    assert "unknown field" in message
    assert "hunter2" not in kubectl("get", "-n", namespace, "tb", "-o", "json").stdout


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"destination": {}}, "exactly one destination must be set"),
        (
            {"destination": {"pvc": {"claimName": "b", "path": "../etc"}}},
            "spec.destination.pvc.path",
        ),
        ({"destination": {"pvc": {"claimName": "b", "path": "/abs"}}}, "spec.destination.pvc.path"),
        ({"destination": {"pvc": {"claimName": "Bad_Name"}}}, "spec.destination.pvc.claimName"),
        ({"dump": {"compression": "gzip", "compressionLevel": 12}}, "compressionLevel must be"),
        ({"dump": {"compression": "none", "compressionLevel": 3}}, "compressionLevel must be"),
        ({"dump": {"format": "directory"}}, "spec.dump.format"),
        ({"retry": {"backoffSeconds": 60, "maxBackoffSeconds": 10}}, "maxBackoffSeconds must not"),
        ({"timeouts": {"activeDeadlineSeconds": 1}}, "spec.timeouts.activeDeadlineSeconds"),
        ({"database": {"secretRef": {"name": "x;y"}}}, "spec.database.secretRef.name"),
        (
            {"database": {"secretRef": {"name": "pg"}, "sslMode": "verify-full"}},
            "verify-ca and verify-full need tls.caSecretRef",
        ),
        (
            {
                "database": {
                    "secretRef": {"name": "pg"},
                    "sslMode": "verify-ca",
                    "tls": {"certSecretRef": {"name": "pg-client"}},
                }
            },
            "verify-ca and verify-full need tls.caSecretRef",
        ),
    ],
)
def test_other_bad_specs_are_rejected_with_a_clear_message(
    apply: Apply, spec: dict[str, Any], expected: str
) -> None:
    assert expected in rejected(apply, manifest(**spec))


def test_names_longer_than_63_characters_are_refused(apply: Apply) -> None:
    assert "at most 63 characters" in rejected(apply, manifest(name="n" * 64))


def test_verify_full_with_a_ca_and_a_client_certificate_is_accepted(
    apply: Apply, kubectl: KubectlRunner, namespace: str
) -> None:
    tls = {"caSecretRef": {"name": "pg-ca"}, "certSecretRef": {"name": "pg-client"}}
    database = {"secretRef": {"name": "pg"}, "sslMode": "verify-full", "tls": tls}
    apply(manifest(database=database))
    stored = kubectl("get", "-n", namespace, "tb", "nightly", "-o", "json").stdout
    assert '"key": "ca.crt"' in stored  # CloudNativePG's <cluster>-ca key, by default
