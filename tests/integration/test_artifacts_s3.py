"""Artifacts on a real S3 server (MinIO): read back as a streaming body in chunks, checked
against the sidecar and the expected sha256, corruption and absence told apart; deleted with
the sidecar and any incomplete upload of the key."""

from __future__ import annotations

import pytest

from tenant_backup.api.contract import ChecksumCalculation, S3Credentials, S3Location
from tenant_backup.runner.destinations import delete
from tenant_backup.runner.destinations.access import Access, S3Connection
from tenant_backup.runner.destinations.base import Leftover, PartlyLeft
from tenant_backup.runner.destinations.s3 import S3Upload
from tenant_backup.runner.destinations.s3_artifact import VERSIONED
from tenant_backup.runner.options import S3Target
from tests.support.artifacts import (
    FACTS,
    assert_round_trip,
    payload,
    read_back,
    read_failure,
    sha256,
    write,
)
from tests.support.s3_fixtures import Bucket

KEY = "nightly/acme/acme-20261125T120000Z-0a1b2c3d.pgdump.zst"
MIB = 1 << 20


@pytest.fixture
def access(bucket: Bucket, monkeypatch: pytest.MonkeyPatch) -> Access:
    """S3 settings for the test server; its root account's keys in the environment."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", bucket.server.account.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", bucket.server.account.secret_access_key)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    connection = S3Connection(
        region="us-east-1",
        endpoint=bucket.server.endpoint,
        force_path_style=True,
        checksum=ChecksumCalculation.WHEN_REQUIRED,
        ca_file=None,
        credentials=S3Credentials.KEYS,
    )
    return Access(s3=connection)


def _written(bucket: Bucket, access: Access, data: bytes) -> S3Location:
    assert access.s3 is not None
    target = S3Target(**vars(access.s3), bucket=bucket.name, key=KEY, download_link_seconds=None)
    location = S3Location(bucket.name, KEY)
    write(S3Upload.start(target, location.url, FACTS, len(data)), data, piece=MIB)
    return location


def test_round_trip(bucket: Bucket, access: Access) -> None:
    data = payload(11 * MIB + 5)  # three parts
    location = _written(bucket, access, data)
    assert bucket.keys() == [KEY, KEY + ".sha256"]
    bucket.client.create_multipart_upload(Bucket=bucket.name, Key=KEY)  # a killed run's
    bucket.client.create_multipart_upload(Bucket=bucket.name, Key=KEY + "-other")
    assert_round_trip(location, access, data, chunk_size=256 * 1024)
    assert bucket.keys() == []
    assert bucket.uploads() == [KEY + "-other"]


def test_a_missing_object_is_not_found(bucket: Bucket, access: Access) -> None:
    error = read_failure(S3Location(bucket.name, KEY), access, "a" * 64)
    assert (error.reason, error.message) == (
        "ArtifactNotFound",
        f"cannot read s3://{bucket.name}/{KEY}: no such object",
    )


def test_changed_bytes_are_corrupt(bucket: Bucket, access: Access) -> None:
    data = payload(2 * MIB)
    location = _written(bucket, access, data)
    changed = bytearray(data)
    changed[MIB] ^= 1
    bucket.client.put_object(Bucket=bucket.name, Key=KEY, Body=bytes(changed))
    error = read_failure(location, access, sha256(data))
    assert error.reason == "ArtifactCorrupt"
    assert error.message == (
        f"{location.url}: sha256 {sha256(bytes(changed))}, expected {sha256(data)}"
    )
    bucket.client.put_object(Bucket=bucket.name, Key=KEY, Body=data[:-1])
    error = read_failure(location, access, sha256(data))
    assert error.message == f"{location.url}: {len(data) - 1} bytes, the sidecar says {len(data)}"


def test_the_sidecar_must_agree_and_may_be_missing(
    bucket: Bucket, access: Access, caplog: pytest.LogCaptureFixture
) -> None:
    data = payload(1000)
    location = _written(bucket, access, data)
    other = sha256(b"another artifact")
    error = read_failure(location, access, other)
    assert (error.reason, error.message) == (
        "ArtifactCorrupt",
        f"{location.url}.sha256 says sha256 {sha256(data)}, expected {other}",
    )
    bucket.client.delete_object(Bucket=bucket.name, Key=KEY + ".sha256")
    assert read_back(location, access, sha256(data), 100) == data
    assert f"{location.url} has no sidecar" in caplog.text
    assert read_failure(location, access, other).reason == "ArtifactCorrupt"


def test_wrong_credentials_are_auth_failed(
    bucket: Bucket, access: Access, monkeypatch: pytest.MonkeyPatch
) -> None:
    location = _written(bucket, access, b"x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-key")
    assert read_failure(location, access, sha256(b"x")).reason == "AuthFailed"


def test_a_versioned_bucket_keeps_the_bytes_and_says_so(bucket: Bucket, access: Access) -> None:
    bucket.client.put_bucket_versioning(
        Bucket=bucket.name, VersioningConfiguration={"Status": "Enabled"}
    )
    location = _written(bucket, access, b"x")
    url = f"s3://{bucket.name}/{KEY}"
    assert delete(location, access) == PartlyLeft(
        (
            Leftover(f"{url} (noncurrent version)", VERSIONED),
            Leftover(f"{url}.sha256 (noncurrent version)", VERSIONED),
        )
    )
    assert bucket.keys() == []
    versions = bucket.client.list_object_versions(Bucket=bucket.name).get("Versions", [])
    assert len(versions) == 2
