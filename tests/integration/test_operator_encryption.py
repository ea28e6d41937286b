"""Encrypted artifacts through the operator on a real API server, the Jobs' pods run for real
(the runner against the real PostgreSQL, a claim directory, MinIO and the Bot API stand-in):
a TenantBackup encrypted with age to an inline recipient and one from a Secret stores bytes
holding none of the tenant's rows; a TenantRestore with the second recipient's identity
restores it identically; without an identity it fails as DecryptionFailed before any Job,
and with a wrong one its Job fails as DecryptionFailed: the target untouched either way."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pyrage
import pytest

from devenv.kubectl import KubectlRunner
from devenv.telegram_restore import reassemble
from devenv.telegram_stand_in import BotApiStandIn
from devenv.tenants import Database
from tenant_backup.api.contract import AGE_HEADER, age_fingerprint
from tests.integration.test_operator_s3 import create_s3_secret, s3_destination
from tests.support import backups as tb
from tests.support.operator_fixtures import StartOperator
from tests.support.s3_fixtures import Bucket

Apply = Callable[..., Any]
MARKER = b"@tenant_acme.example"
"""In every customer's email: in the tenant's data only, never in its definitions."""
BOT_SECRET = "backup-bot"
CHAT = -1001234567890
CUSTOMERS = "SELECT id, name, email, profile FROM {}.customers ORDER BY id"


@dataclass(frozen=True)
class Keys:
    """The team's identity (inline recipient), the escrow's (recipient in a Secret), and one
    that is neither's."""

    team: pyrage.x25519.Identity
    escrow: pyrage.x25519.Identity
    stranger: pyrage.x25519.Identity

    @staticmethod
    def recipient(identity: pyrage.x25519.Identity) -> str:
        return str(identity.to_public())


@dataclass(frozen=True)
class Destination:
    """A destination's spec, the Secret keys its Jobs need, and how to read what it stores."""

    spec: dict[str, Any]
    secret: dict[str, str]
    claim: Path
    stored: Callable[[str], bytes]


def _pvc(kubectl: KubectlRunner, namespace: str, claim_dir: Path) -> Destination:
    return Destination(
        {"pvc": {"claimName": tb.CLAIM_NAME, "path": "nightly"}},
        {},
        claim_dir,
        lambda url: tb.artifact_file(claim_dir, url).read_bytes(),
    )


def _s3(kubectl: KubectlRunner, namespace: str, bucket: Bucket, tmp_path: Path) -> Destination:
    secret = create_s3_secret(kubectl, namespace, bucket)
    return Destination(
        s3_destination(bucket),
        secret,
        tmp_path,
        lambda url: bucket.read(url.removeprefix(f"s3://{bucket.name}/")),
    )


def _telegram(
    kubectl: KubectlRunner, namespace: str, api: BotApiStandIn, tmp_path: Path
) -> Destination:
    tb.create_secret(kubectl, namespace, BOT_SECRET, {"botToken": api.token})
    spec = {"chatId": CHAT, "secretRef": {"name": BOT_SECRET}, "apiUrl": api.url}
    return Destination(
        {"telegram": spec | {"partSizeBytes": 1 << 20}},
        {"botToken": api.token},
        tmp_path,
        lambda url: reassemble(api.url, api.token, url)[1],
    )


@pytest.fixture(params=["pvc", "s3", "telegram"])
def destination(
    request: pytest.FixtureRequest,
    kubectl: KubectlRunner,
    namespace: str,
    claim_dir: Path,
    tmp_path: Path,
) -> Destination:
    if request.param == "pvc":
        return _pvc(kubectl, namespace, claim_dir)
    if request.param == "s3":
        return _s3(kubectl, namespace, request.getfixturevalue("bucket"), tmp_path)
    return _telegram(kubectl, namespace, request.getfixturevalue("bot_api"), tmp_path)


def _rows(db: Database, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(db.dsn()) as conn:
        return conn.execute(query).fetchall()


def _schemas(db: Database) -> set[str]:
    return {row[0] for row in _rows(db, "SELECT nspname FROM pg_namespace")}


def test_an_encrypted_backup_restores_only_with_its_identity(
    apply: Apply,
    kubectl: KubectlRunner,
    namespace: str,
    start_operator: StartOperator,
    tenant_db: Database,
    destination: Destination,
    tmp_path: Path,
) -> None:
    keys = Keys(*(pyrage.x25519.Identity.generate() for _ in range(3)))
    team, escrow = keys.recipient(keys.team), keys.recipient(keys.escrow)
    recipients_file = f"# the escrow key\n{escrow}\n"
    tb.create_secret(kubectl, namespace, "age-recipients", {"recipients": recipients_file})
    tb.create_secret(kubectl, namespace, "age-escrow", {"identity": str(keys.escrow)})
    tb.create_secret(kubectl, namespace, "age-stranger", {"identity": str(keys.stranger)})
    db_secret = tb.create_db_secret(kubectl, namespace, tenant_db)
    restore_secret = tb.create_restore_secret(kubectl, namespace, tenant_db)
    start_operator()
    encryption = {"age": {"recipients": [team], "recipientsSecretRef": {"name": "age-recipients"}}}
    apply(
        tb.manifest(
            destination=destination.spec,
            dump={"compression": "none"},  # the rows as they are, but for the encryption
            encryption=encryption,
            retry={"maxAttempts": 1},
        )
    )
    pod = tb.running_pod(kubectl, namespace, "nightly-1")
    command = pod["spec"]["containers"][0]["command"]
    assert f"--age-recipient={team}" in command
    assert any(arg.startswith("--age-recipients-file=") for arg in command)
    work = tmp_path / "work"
    work.mkdir()
    tb.run_real_attempt(
        kubectl,
        namespace,
        "nightly-1",
        db_secret | destination.secret | {"recipients": recipients_file},
        destination.claim,
        work,
    )
    artifact = tb.wait_phase(kubectl, namespace, "nightly", "Succeeded")["artifact"]
    assert artifact["encryption"] == {
        "scheme": "age",
        "recipients": [age_fingerprint(team), age_fingerprint(escrow)],
    }
    stored = destination.stored(artifact["url"])
    assert stored.startswith(AGE_HEADER)
    assert MARKER not in stored
    assert (artifact["sizeBytes"], artifact["sha256"]) == (
        len(stored),
        hashlib.sha256(stored).hexdigest(),
    )
    assert MARKER in pyrage.decrypt(stored, [keys.team])  # the control: the rows are in there
    if "telegram" not in destination.spec:
        assert artifact["url"].endswith(".pgdump.age")

    before = _schemas(tenant_db)
    source = {"backupRef": {"name": "nightly"}}
    apply(tb.tenant_restore("without", source))
    refused = tb.wait_restore(kubectl, namespace, "without", "Failed")
    assert refused["reason"] == "DecryptionFailed", refused
    assert "decryption.identitySecretRef" in refused["message"]
    assert "without-1-restore" not in tb.job_names(kubectl, namespace)

    stranger = {"identitySecretRef": {"name": "age-stranger"}}
    apply(tb.tenant_restore("wrong", source, decryption=stranger))
    pod = tb.running_pod(kubectl, namespace, "wrong-1-restore")
    assert str(keys.stranger) not in json.dumps(pod)
    volumes = {volume["name"]: volume for volume in pod["spec"]["volumes"]}
    assert volumes["age-identity"]["secret"]["secretName"] == "age-stranger"
    restore_keys = restore_secret | destination.secret
    tb.run_real_attempt(
        kubectl,
        namespace,
        "wrong-1-restore",
        restore_keys | {"identity": str(keys.stranger)},
        destination.claim,
        work,
    )
    wrong = tb.wait_restore(kubectl, namespace, "wrong", "Failed")
    assert (wrong["reason"], wrong["step"]) == ("DecryptionFailed", "Downloading"), wrong
    assert _schemas(tenant_db) == before

    escrow_identity = {"identitySecretRef": {"name": "age-escrow"}}
    apply(tb.tenant_restore("copy", source, decryption=escrow_identity))
    tb.running_pod(kubectl, namespace, "copy-1-restore")
    tb.run_real_attempt(
        kubectl,
        namespace,
        "copy-1-restore",
        restore_keys | {"identity": str(keys.escrow)},
        destination.claim,
        work,
    )
    restored = tb.wait_restore(kubectl, namespace, "copy", "Succeeded")
    assert restored["source"]["encryption"] == artifact["encryption"]
    assert _rows(tenant_db, CUSTOMERS.format("tenant_acme_copy")) == _rows(
        tenant_db, CUSTOMERS.format("tenant_acme")
    )


REFUSED: list[tuple[str, dict[str, Any], str]] = [
    ("not-a-key", {"age": {"recipients": ["age1notakey"]}}, "spec.encryption.age.recipients[0]"),
    ("a-private-key", {"age": {"recipients": ["AGE-SECRET-KEY-1" + "Q" * 58]}}, "recipients[0]"),
    ("no-recipient", {"age": {"recipients": []}}, "name recipients, a recipientsSecretRef"),
    ("no-scheme", {}, "spec.encryption.age"),
]


@pytest.mark.parametrize(("case", "encryption", "said"), REFUSED, ids=[c[0] for c in REFUSED])
def test_admission_refuses_what_cannot_encrypt(
    apply: Apply, case: str, encryption: dict[str, Any], said: str
) -> None:
    del case
    refused = apply(tb.manifest(encryption=encryption), check=False)
    assert refused.returncode != 0, encryption
    assert said in refused.stderr
    no_identity = tb.tenant_restore("r", {"backupRef": {"name": "b"}}, decryption={})
    refused = apply(no_identity, check=False)
    assert "spec.decryption.identitySecretRef" in refused.stderr
