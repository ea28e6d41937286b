"""`tenant-backup dump` to a real S3 server (MinIO): multipart streaming, verification before
completion, nothing left behind on failure, credentials and download links kept out of logs."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
import zstandard

from devenv.minio import S3Account
from devenv.postgres import DEFAULT_BIN_DIR
from devenv.processes import free_port
from devenv.tenants import Database
from devenv.waiting import wait_for
from tests.support.dump_runs import (
    Run,
    add_blobs,
    assert_failed,
    run_dump,
    terminated,
    wrapper_bin,
)
from tests.support.s3_fixtures import Bucket

TENANT_BACKUP = Path(sys.executable).with_name("tenant-backup")
KEY = "nightly/acme/acme-20261125T120000Z-0a1b2c3d.pgdump.zst"
MIB = 1 << 20
# 20,000 rows of 1 KiB of incompressible bytes: ~20 MiB of artifact, so three 8 MiB parts.
BLOB_ROWS = 20_000


def _env(db: Database, account: S3Account) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "AWS_"))}
    return {
        **clean,
        **db.env(),
        "AWS_ACCESS_KEY_ID": account.access_key_id,
        "AWS_SECRET_ACCESS_KEY": account.secret_access_key,
    }


def _argv(bucket: Bucket, result_file: Path, *args: str, endpoint: str | None = None) -> list[str]:
    return [
        str(TENANT_BACKUP), "dump", "--tenant", "acme",
        "--s3-bucket", bucket.name, "--s3-key", KEY,
        "--s3-endpoint", endpoint or bucket.server.endpoint, "--s3-force-path-style",
        "--result-file", str(result_file), *args,
    ]  # fmt: skip


def _run(
    db: Database,
    bucket: Bucket,
    tmp_path: Path,
    *args: str,
    account: S3Account | None = None,
    endpoint: str | None = None,
) -> Run:
    result_file = tmp_path / "result.json"
    env = _env(db, account or bucket.server.account)
    argv = _argv(bucket, result_file, *args, endpoint=endpoint)
    return run_dump(argv, env, result_file, _secrets(env))


def _secrets(env: dict[str, str]) -> list[str]:
    return [env["PGPASSWORD"], env["AWS_SECRET_ACCESS_KEY"]]


def _assert_nothing_left(bucket: Bucket) -> None:
    assert bucket.keys() == []
    assert bucket.uploads() == []


@pytest.fixture
def big_tenant_db(tenant_db: Database) -> Database:
    """tenant_db whose tenant_acme holds ~20 MiB of incompressible rows."""
    add_blobs(tenant_db, BLOB_ROWS)
    return tenant_db


# --- success ------------------------------------------------------------------------------


def test_dump_streams_as_multipart_and_downloads_byte_identical(
    big_tenant_db: Database, bucket: Bucket, tmp_path: Path
) -> None:
    run = _run(big_tenant_db, bucket, tmp_path)
    assert run.returncode == 0, run.stderr
    artifact = run.result["artifact"]
    assert artifact["url"] == f"s3://{bucket.name}/{KEY}"
    assert (artifact["format"], artifact["compression"]) == ("custom", "zstd")
    assert artifact["verification"] == "toc"
    body = bucket.read(KEY)
    assert len(body) == artifact["sizeBytes"] > 16 * MIB
    assert hashlib.sha256(body).hexdigest() == artifact["sha256"]
    head = bucket.client.head_object(Bucket=bucket.name, Key=KEY, PartNumber=1)
    assert head.get("PartsCount", 0) >= 3  # streamed in 8 MiB parts
    assert bucket.client.head_object(Bucket=bucket.name, Key=KEY)["Metadata"] == {
        "tenant": "acme",
        "format": "custom",
        "compression": "zstd",
        "server-version": run.result["serverVersion"],
        "pg-dump-version": run.result["pgDumpVersion"],
    }
    sidecar = bucket.client.get_object(Bucket=bucket.name, Key=KEY + ".sha256")
    assert sidecar["Body"].read().decode() == f"{artifact['sha256']}  {Path(KEY).name}\n"
    assert sidecar["Metadata"]["sha256"] == artifact["sha256"]
    assert sidecar["Metadata"]["size-bytes"] == str(len(body))
    assert bucket.uploads() == []
    listing = subprocess.run(
        [str(DEFAULT_BIN_DIR / "pg_restore"), "--list"],
        input=zstandard.ZstdDecompressor().decompressobj().decompress(body),
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert "TABLE DATA tenant_acme blobs" in listing


@pytest.mark.parametrize(
    ("fmt", "compression", "verify", "read_back"),
    [
        ("custom", "zstd", "full", "full"),
        ("custom", "none", "full", "full"),
        ("plain", "gzip", "toc", "scan"),
    ],
)
def test_stream_verification_of_every_codec(
    tenant_db: Database,
    bucket: Bucket,
    tmp_path: Path,
    fmt: str,
    compression: str,
    verify: str,
    read_back: str,
) -> None:
    args = ("--format", fmt, "--compression", compression, "--verify", verify)
    run = _run(tenant_db, bucket, tmp_path, *args)
    assert run.returncode == 0, run.stderr
    assert run.result["artifact"]["verification"] == read_back
    assert hashlib.sha256(bucket.read(KEY)).hexdigest() == run.result["artifact"]["sha256"]
    assert "verifying the stream: " in run.stderr


def test_a_stale_upload_of_the_same_key_is_aborted(
    tenant_db: Database, bucket: Bucket, tmp_path: Path
) -> None:
    bucket.client.create_multipart_upload(Bucket=bucket.name, Key=KEY)
    bucket.client.create_multipart_upload(Bucket=bucket.name, Key=KEY + "-other")
    run = _run(tenant_db, bucket, tmp_path)
    assert run.returncode == 0, run.stderr
    assert bucket.uploads() == [KEY + "-other"]


# --- failures: no object, no incomplete upload ---------------------------------------------


def test_pg_dump_killed_midway_leaves_no_object_and_no_upload(
    tenant_db: Database, bucket: Bucket, tmp_path: Path
) -> None:
    bin_dir = wrapper_bin(tmp_path / "bin", "head -c 20000000 /dev/urandom\nkill -KILL $$\n")
    run = _run(tenant_db, bucket, tmp_path, "--pg-bin-dir", str(bin_dir), "--compression=none")
    assert_failed(run, "DumpInterrupted", retryable=True)
    assert "uploading to s3://" in run.stderr
    _assert_nothing_left(bucket)


def test_a_stream_that_fails_verification_is_never_completed(
    tenant_db: Database, bucket: Bucket, tmp_path: Path
) -> None:
    bin_dir = wrapper_bin(tmp_path / "bin", "head -c 10000000 /dev/urandom\nexit 0\n")
    run = _run(tenant_db, bucket, tmp_path, "--pg-bin-dir", str(bin_dir))
    assert_failed(run, "VerificationFailed", retryable=False)
    assert "pg_restore --list failed" in run.result["message"]
    _assert_nothing_left(bucket)


def _parts_uploaded(bucket: Bucket) -> int:
    uploads = bucket.client.list_multipart_uploads(Bucket=bucket.name).get("Uploads", [])
    if not uploads:
        return 0
    parts = bucket.client.list_parts(Bucket=bucket.name, Key=KEY, UploadId=uploads[0]["UploadId"])
    return len(parts.get("Parts", []))


def test_sigterm_mid_upload_aborts_it(tenant_db: Database, bucket: Bucket, tmp_path: Path) -> None:
    script = "head -c 30000000 /dev/urandom\nexec sleep 300\n"
    bin_dir = wrapper_bin(tmp_path / "bin", script)
    args = ("--pg-bin-dir", str(bin_dir), "--compression=none")
    result_file = tmp_path / "result.json"
    env = _env(tenant_db, bucket.server.account)
    argv = _argv(bucket, result_file, *args)
    run, _ = terminated(argv, env, result_file, lambda: _parts_uploaded(bucket) >= 2, _secrets(env))
    assert_failed(run, "DumpInterrupted", retryable=True)
    assert run.returncode == 128 + signal.SIGTERM
    _assert_nothing_left(bucket)


def test_wrong_credentials_are_auth_failed_before_dumping(
    tenant_db: Database, bucket: Bucket, tmp_path: Path
) -> None:
    wrong = S3Account(bucket.server.account.access_key_id, "not-the-secret-key")
    started = time.monotonic()
    run = _run(tenant_db, bucket, tmp_path, account=wrong)
    assert_failed(run, "AuthFailed", retryable=False)
    assert "SignatureDoesNotMatch" in run.result["message"]
    assert "running " not in run.stderr  # pg_dump never started
    assert time.monotonic() - started < 20
    unknown = _run(tenant_db, bucket, tmp_path, account=S3Account("nobody", "x" * 20))
    assert_failed(unknown, "AuthFailed", retryable=False)
    assert "InvalidAccessKeyId" in unknown.result["message"]
    _assert_nothing_left(bucket)


def test_unreachable_endpoint_is_destination_unavailable(
    tenant_db: Database, bucket: Bucket, tmp_path: Path
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    run = _run(tenant_db, bucket, tmp_path, endpoint=nobody)
    assert_failed(run, "DestinationUnavailable", retryable=True)
    assert "Could not connect" in run.result["message"]


def test_missing_bucket_is_destination_unavailable(
    tenant_db: Database, bucket: Bucket, tmp_path: Path
) -> None:
    gone = Bucket(bucket.name + "-gone", bucket.server, bucket.client)
    run = _run(tenant_db, gone, tmp_path)
    assert_failed(run, "DestinationUnavailable", retryable=True)
    assert "NoSuchBucket" in run.result["message"]


# --- download links -----------------------------------------------------------------------


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as reply:
        data: bytes = reply.read()
        return data


def test_download_link_works_until_it_expires_and_never_reaches_logs(
    tenant_db: Database, bucket: Bucket, tmp_path: Path
) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    run = _run(tenant_db, bucket, tmp_path, "--s3-download-link-seconds", "3")
    assert run.returncode == 0, run.stderr
    artifact = run.result["artifact"]
    url = artifact["downloadUrl"]
    expires_at = datetime.fromisoformat(artifact["downloadUrlExpiresAt"])
    assert 3 <= (expires_at - before).total_seconds() <= 10
    assert "X-Amz-Signature=" in url
    signature = url.split("X-Amz-Signature=")[1].split("&")[0]
    assert signature not in run.stdout + run.stderr
    assert "downloadUrl" not in run.stdout
    assert json.loads(run.stdout)["artifact"]["sha256"] == artifact["sha256"]
    body = _get(url)
    assert hashlib.sha256(body).hexdigest() == artifact["sha256"]
    wait_for(lambda: datetime.now(UTC) > expires_at, 10, "the link never expired")
    time.sleep(1)
    with pytest.raises(urllib.error.HTTPError) as refused:
        _get(url)
    assert refused.value.code == 403
    assert b"Request has expired" in refused.value.read()


@pytest.mark.parametrize("seconds", ["0", "604801"])
def test_download_link_lifetime_is_bounded(
    tenant_db: Database, bucket: Bucket, tmp_path: Path, seconds: str
) -> None:
    run = _run(tenant_db, bucket, tmp_path, "--s3-download-link-seconds", seconds)
    assert_failed(run, "ValidationFailed", retryable=False)
    _assert_nothing_left(bucket)


def _chain_env(db: Database, **aws: str) -> dict[str, str]:
    """No AWS_* key in the environment: only what the default chain is pointed at (instance
    metadata off, so a miss fails at once instead of asking a metadata service)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "AWS_"))}
    return {**clean, **db.env(), "AWS_EC2_METADATA_DISABLED": "true", **aws}


def test_default_chain_reads_a_mounted_shared_credentials_file(
    tenant_db: Database, bucket: Bucket, tmp_path: Path
) -> None:
    account = bucket.server.account
    credentials = tmp_path / "aws" / "credentials"  # as a Secret or CSI volume mounts it
    credentials.parent.mkdir()
    credentials.write_text(
        "[default]\naws_access_key_id = nobody\naws_secret_access_key = wrong-wrong\n\n"
        f"[backup]\naws_access_key_id = {account.access_key_id}\n"
        f"aws_secret_access_key = {account.secret_access_key}\n"
    )
    result_file = tmp_path / "result.json"
    argv = _argv(bucket, result_file, "--s3-credentials=default-chain")
    files = {"AWS_SHARED_CREDENTIALS_FILE": str(credentials), "AWS_CONFIG_FILE": "/dev/null"}
    env = _chain_env(tenant_db, **files, AWS_PROFILE="backup")
    run = run_dump(argv, env, result_file, [env["PGPASSWORD"], account.secret_access_key])
    assert run.returncode == 0, run.result
    body = bucket.read(KEY)
    body_digest = hashlib.sha256(body).hexdigest()
    assert run.result["artifact"]["sha256"] == body_digest
    assert bucket.read(KEY + ".sha256").startswith(body_digest.encode())

    # The profile the chain picks is the one used: the default profile's keys are refused.
    wrong = run_dump(argv, _chain_env(tenant_db, **files), result_file, [])
    assert_failed(wrong, "AuthFailed", retryable=False)
    assert "InvalidAccessKeyId" in wrong.result["message"]
    # Keys mode reads only AWS_* keys, never the file.
    keys_only = _argv(bucket, result_file)
    refused = run_dump(
        keys_only, _chain_env(tenant_db, **files, AWS_PROFILE="backup"), result_file, []
    )
    assert_failed(refused, "AuthFailed", retryable=False)
    assert (
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set" in refused.result["message"]
    )
    # A chain that finds nothing says where it looked, before pg_dump starts.
    empty = {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_CONFIG_FILE": "/dev/null"}
    nothing = run_dump(argv, _chain_env(tenant_db, **empty), result_file, [])
    assert_failed(nothing, "AuthFailed", retryable=False)
    assert "found no credentials" in nothing.result["message"]
    assert "AWS_WEB_IDENTITY_TOKEN_FILE" in nothing.result["message"]
    assert "running " not in nothing.stderr


def _credentials_endpoint(
    token: str, credentials: dict[str, str], calls: list[str]
) -> type[BaseHTTPRequestHandler]:
    """EKS Pod Identity's agent as the SDKs call it: a GET with the pod's token as
    Authorization, answered with temporary credentials; each call's verdict in `calls`."""

    class Endpoint(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            authorized = self.headers.get("Authorization") == token
            calls.append("ok" if authorized else "refused")
            body = json.dumps(credentials if authorized else {"message": "no"}).encode()
            self.send_response(200 if authorized else 403)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    return Endpoint


def test_default_chain_takes_container_credentials_with_the_pods_token(
    tenant_db: Database, bucket: Bucket, tmp_path: Path
) -> None:
    account = bucket.server.account
    sts = bucket.server.client().meta.endpoint_url
    issued = (
        boto3.client(
            "sts", endpoint_url=sts, region_name="us-east-1",
            aws_access_key_id=account.access_key_id,
            aws_secret_access_key=account.secret_access_key,
        )
        .assume_role(RoleArn="arn:minio:iam:::role/x", RoleSessionName="pod", DurationSeconds=3600)
        ["Credentials"]
    )  # fmt: skip
    token_file = tmp_path / "eks-pod-identity-token"
    token_file.write_text("pod-token-" + os.urandom(8).hex())
    calls: list[str] = []
    credentials = {
        "AccessKeyId": issued["AccessKeyId"],
        "SecretAccessKey": issued["SecretAccessKey"],
        "Token": issued["SessionToken"],
        "Expiration": issued["Expiration"].isoformat(),
    }
    handler = _credentials_endpoint(token_file.read_text(), credentials, calls)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result_file = tmp_path / "result.json"
        argv = _argv(bucket, result_file, "--s3-credentials=default-chain")
        env = _chain_env(
            tenant_db,
            AWS_CONTAINER_CREDENTIALS_FULL_URI=f"http://127.0.0.1:{server.server_port}/v1/creds",
            AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(token_file),
            AWS_CONFIG_FILE="/dev/null",
            AWS_SHARED_CREDENTIALS_FILE="/dev/null",
        )
        run = run_dump(argv, env, result_file, [env["PGPASSWORD"], issued["SecretAccessKey"]])
    finally:
        server.shutdown()
    assert run.returncode == 0, run.result
    assert calls == ["ok"]  # once, with the token: the chain asked the endpoint
    assert run.result["artifact"]["sha256"] == hashlib.sha256(bucket.read(KEY)).hexdigest()
