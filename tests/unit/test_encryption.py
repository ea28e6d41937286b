"""age encryption: the keys the runner accepts and their fingerprints, the streaming encryptor,
the artifact stream hashing what is stored, the Jobs carrying recipients as arguments and the
identity only as a mounted file, and the artifact's name and status."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pyrage
import pytest
from pydantic import ValidationError

from tenant_backup.api.backup import TenantBackupSpec
from tenant_backup.api.contract import MAX_AGE_RECIPIENTS, Encryption, age_fingerprint
from tenant_backup.api.reasons import Reason
from tenant_backup.api.restore import ResolvedSource
from tenant_backup.api.result import ResultEncryption
from tenant_backup.backup.destination import file_name
from tenant_backup.backup.job import build_job as build_dump_job
from tenant_backup.restore.job import build_job as build_restore_job
from tenant_backup.runner.age_keys import parse_recipients, read_identities
from tenant_backup.runner.age_stream import AgeEncryptor
from tenant_backup.runner.destinations.base import Digest, DownloadLink, Throttled
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.stream import ArtifactStream
from tenant_backup.schedule.runs import run_manifest
from tenant_backup.settings import Settings
from tests.support.factories import T0, backup
from tests.unit.test_restore_plan import SOURCE, restore
from tests.unit.test_schedule_plan import schedule

TEAM = pyrage.x25519.Identity.generate()
ESCROW = pyrage.x25519.Identity.generate()
TEAM_KEY, ESCROW_KEY = str(TEAM.to_public()), str(ESCROW.to_public())


class MemoryUpload:
    """An upload keeping its bytes in memory."""

    url = "file:///memory"

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes) -> None:
        self.data += data

    def finish(self) -> None:
        pass

    def local_copy(self) -> None:
        return None

    def commit(self, digest: Digest) -> None:
        pass

    def abort(self) -> None:
        pass

    def download_link(self, seconds: int) -> DownloadLink | None:
        return None

    def throttled(self) -> Throttled | None:
        return None


def test_a_fingerprint_is_the_start_of_the_sha256_of_the_recipients_text() -> None:
    assert age_fingerprint(TEAM_KEY) == hashlib.sha256(TEAM_KEY.encode()).hexdigest()[:16]
    assert age_fingerprint(f" {TEAM_KEY.upper()}\n") == age_fingerprint(TEAM_KEY)
    assert age_fingerprint(TEAM_KEY) != age_fingerprint(ESCROW_KEY)


def test_recipients_are_checked_in_full_and_listed_once() -> None:
    parsed = parse_recipients([TEAM_KEY, ESCROW_KEY, TEAM_KEY.upper()])
    assert parsed.fingerprints == (age_fingerprint(TEAM_KEY), age_fingerprint(ESCROW_KEY))
    assert len(parsed.keys) == 2
    typo = TEAM_KEY[:-1] + ("q" if TEAM_KEY[-1] != "q" else "p")
    for bad in ([typo], [], [TEAM_KEY[:9] + TEAM_KEY[9:].upper()]):
        with pytest.raises(RunError) as raised:
            parse_recipients(bad)
        assert raised.value.reason is Reason.VALIDATION_FAILED
    many = [str(pyrage.x25519.Identity.generate().to_public()) for _ in range(17)]
    with pytest.raises(RunError, match=f"1-{MAX_AGE_RECIPIENTS}"):
        parse_recipients(many)


def test_an_identity_file_is_read_without_ever_quoting_a_key(tmp_path: Path) -> None:
    good = tmp_path / "keys.txt"
    good.write_text(f"# created by age-keygen\n\n{TEAM}\n")
    assert len(read_identities(good)) == 1
    broken = tmp_path / "broken.txt"
    broken.write_text(f"{TEAM}\n{str(ESCROW)[:-2]}\n")
    with pytest.raises(RunError) as raised:
        read_identities(broken)
    assert raised.value.reason is Reason.DECRYPTION_FAILED
    assert "key 2" in raised.value.message
    assert str(ESCROW)[:-2] not in raised.value.message
    for missing in (tmp_path / "absent", tmp_path / "empty"):
        if missing.name == "empty":
            missing.write_text("# nothing\n")
        with pytest.raises(RunError) as raised:
            read_identities(missing)
        assert raised.value.reason is Reason.DECRYPTION_FAILED


def test_the_stream_stores_and_hashes_ciphertext_and_taps_the_plaintext() -> None:
    upload, tapped = MemoryUpload(), bytearray()
    data = os.urandom(1 << 20) + b"x" * (3 << 20)
    stream = ArtifactStream(upload, 1, tapped.extend, [TEAM.to_public(), ESCROW.to_public()])
    for start in range(0, len(data), 100_000):
        stream.write(data[start : start + 100_000])
    stream.finish()
    stored = bytes(upload.data)
    assert stream.digest == Digest(hashlib.sha256(stored).hexdigest(), len(stored))
    assert stream.input_size == len(data)
    compressed = pyrage.decrypt(stored, [ESCROW])
    assert compressed == bytes(tapped) == pyrage.decrypt(stored, [TEAM])
    assert len(compressed) < len(data)


def test_a_failing_upload_fails_the_stream_with_its_own_error() -> None:
    def refuse(data: bytes) -> None:
        raise RunError(Reason.UPLOAD_FAILED, "the bucket said no")

    def encrypt_64_mib() -> None:
        with AgeEncryptor([TEAM.to_public()], refuse) as encryptor:
            for _ in range(64):
                encryptor.write(b"y" * (1 << 20))
            encryptor.finish()

    with pytest.raises(RunError) as raised:
        encrypt_64_mib()
    assert (raised.value.reason, raised.value.message) == (
        Reason.UPLOAD_FAILED,
        "the bucket said no",
    )


def test_a_closed_encryptor_hands_nothing_more_to_its_sink() -> None:
    received: list[bytes] = []
    encryptor = AgeEncryptor([TEAM.to_public()], received.append)
    encryptor.write(b"z" * (1 << 20))
    encryptor.close()
    count = len(received)
    encryptor.close()
    assert len(received) == count
    with pytest.raises(pyrage.DecryptError):
        pyrage.decrypt(b"".join(received), [TEAM])  # never finished: not a whole age file


def test_an_encrypted_artifact_is_named_age_and_its_job_gets_recipients_as_arguments() -> None:
    encryption = {"age": {"recipients": [TEAM_KEY], "recipientsSecretRef": {"name": "escrow-keys"}}}
    encrypted = backup(encryption=encryption)
    assert file_name(encrypted).endswith(".pgdump.zst.age")
    assert file_name(backup()).endswith(".pgdump.zst")
    job = build_dump_job(encrypted, 1, Settings())
    pod = job["spec"]["template"]["spec"]
    command = pod["containers"][0]["command"]
    assert f"--age-recipient={TEAM_KEY}" in command
    assert "--age-recipients-file=/etc/tenant-backup/age-recipients/keys.txt" in command
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes["age-recipients"]["secret"] == {
        "secretName": "escrow-keys",
        "items": [{"key": "recipients", "path": "keys.txt"}],
    }
    assert "--age-recipient" not in json.dumps(build_dump_job(backup(), 1, Settings()))


def test_a_restores_identity_is_only_a_read_only_file_of_its_secret() -> None:
    source = ResolvedSource.model_validate(SOURCE)
    decrypting = restore(decryption={"identitySecretRef": {"name": "age-key"}})
    job = build_restore_job(decrypting, source, 1, Settings())
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert "--age-identity-file=/etc/tenant-backup/age-identity/keys.txt" in container["command"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert volumes["age-identity"]["secret"] == {
        "secretName": "age-key",
        "items": [{"key": "identity", "path": "keys.txt"}],
        "defaultMode": 0o400,
    }
    mounts = {mount["name"]: mount for mount in container["volumeMounts"]}
    assert mounts["age-identity"]["readOnly"] is True
    assert "age-key" not in json.dumps(container["env"])
    plain = build_restore_job(restore(), source, 1, Settings())["spec"]["template"]["spec"]
    work = {volume["name"]: volume for volume in pod["volumes"]}["work"]["emptyDir"]
    unencrypted = {volume["name"]: volume for volume in plain["volumes"]}["work"]["emptyDir"]
    assert (work["sizeLimit"], unencrypted["sizeLimit"]) == ("84Mi", "74Mi")


BAD_ENCRYPTION: list[dict[str, Any]] = [
    {"age": {"recipients": ["age1notakey"]}},
    {"age": {"recipients": ["AGE-SECRET-KEY-1" + "Q" * 58]}},
    {"age": {"recipients": [TEAM_KEY] * (MAX_AGE_RECIPIENTS + 1)}},
    {"age": {"recipientsSecretRef": {"name": "Not_A_Name"}}},
    {"age": {"recipients": [TEAM_KEY], "identity": "x"}},
]


@pytest.mark.parametrize("encryption", BAD_ENCRYPTION)
def test_bad_encryption_specs_are_refused(encryption: dict[str, Any]) -> None:
    spec = {
        "tenant": "acme",
        "database": {"secretRef": {"name": "pg-app"}},
        "destination": {"pvc": {"claimName": "backups"}},
        "encryption": encryption,
    }
    with pytest.raises(ValidationError):
        TenantBackupSpec.model_validate(spec)


def test_a_result_lists_fingerprints_never_keys() -> None:
    with pytest.raises(ValueError, match="fingerprint"):
        ResultEncryption(scheme=Encryption.AGE, recipients=(TEAM_KEY,))
    with pytest.raises(ValueError, match="recipients"):
        ResultEncryption(scheme=Encryption.AGE, recipients=())


def test_a_schedules_runs_are_encrypted_as_its_template_says() -> None:
    template = {
        "database": {"secretRef": {"name": "db"}},
        "destination": {"pvc": {"claimName": "backups"}},
        "encryption": {"age": {"recipients": [TEAM_KEY]}},
    }
    run = run_manifest(schedule(template=template), "acme", T0, None)
    assert run["spec"]["encryption"] == {"age": {"recipients": [TEAM_KEY]}}
