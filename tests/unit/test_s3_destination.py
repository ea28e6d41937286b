"""The S3 destination's pure parts: part sizes and buffers, error reasons, the Job's plan,
results with download links, the Verified condition, and which process may import which
client."""

import gzip
import itertools
import random
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from pydantic import ValidationError

from tenant_backup.api.attempts import ConditionType
from tenant_backup.api.contract import (
    Compression,
    DumpFormat,
    ReadBack,
    S3Credentials,
    Verification,
)
from tenant_backup.api.reasons import Reason
from tenant_backup.api.result import TERMINATION_MESSAGE_LIMIT, DumpResult, ResultArtifact
from tenant_backup.backup.destination import destination_secret_problem, plan_destination
from tenant_backup.backup.job import build_job
from tenant_backup.backup.verified import with_verified
from tenant_backup.core.access import plan_access
from tenant_backup.runner.destinations.base import ArtifactFacts
from tenant_backup.runner.destinations.s3 import (
    MAX_PART_SIZE,
    MAX_PARTS,
    MIN_PART_SIZE,
    S3Upload,
    base_part_size,
    part_size,
)
from tenant_backup.runner.destinations.s3_client import chain_session, s3_error, s3_reason
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.interrupt import Interrupts
from tenant_backup.runner.verify import StreamVerifier
from tenant_backup.settings import Settings
from tests.support.factories import T0, backup

GIB = 1 << 30
S3 = {
    "bucket": "tenant-backups",
    "keyPrefix": "prod/",
    "region": "eu-west-1",
    "credentialsSecretRef": {"name": "s3-creds"},
}
KEY = "prod/acme/acme-20261125T120000Z-0a1b2c3d.pgdump.zst"


@pytest.mark.parametrize(
    ("estimate", "expected"),
    [(0, MIN_PART_SIZE), (GIB, MIN_PART_SIZE), (1 << 40, 244_335_918), (1 << 50, MAX_PART_SIZE)],
)
def test_base_part_size_keeps_the_estimate_under_9000_parts(estimate: int, expected: int) -> None:
    assert base_part_size(estimate) == expected
    if expected < MAX_PART_SIZE:
        assert 2 * estimate / expected <= 9000


def test_parts_grow_when_the_dump_outruns_its_estimate() -> None:
    base = MIN_PART_SIZE
    assert [part_size(n, base) for n in (1, 2500, 2501, 5001, 7501)] == [
        base,
        base,
        2 * base,
        4 * base,
        8 * base,
    ]
    capacity = sum(part_size(n, base) for n in range(1, MAX_PARTS + 1))
    assert capacity == 2500 * base * (1 + 2 + 4 + 8)  # 15x the 10,000 fixed parts
    assert part_size(MAX_PARTS, MAX_PART_SIZE) == MAX_PART_SIZE


class _RecordingS3:
    """Just enough of an S3 client for an upload's parts: records each part as sent."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.bodies: list[int] = []

    def list_multipart_uploads(self, **_: object) -> dict[str, Any]:
        return {}

    def create_multipart_upload(self, **_: object) -> dict[str, Any]:
        return {"UploadId": "upload-1"}

    def upload_part(self, *, PartNumber: int, Body: bytearray, **_: object) -> dict[str, Any]:  # noqa: N803
        assert PartNumber == len(self.parts) + 1
        self.parts.append(bytes(Body))
        self.bodies.append(id(Body))
        return {"ETag": f'"{PartNumber}"'}


def test_parts_are_sent_whole_from_two_buffers_that_take_turns() -> None:
    client = _RecordingS3()
    facts = ArtifactFacts("acme", "custom", "zstd", "15.18", "15.18")
    upload = S3Upload(cast(Any, client), "b", "k", "s3://b/k", facts, MIN_PART_SIZE)
    data = random.Random(7).randbytes(3 * MIN_PART_SIZE + 12345)
    pieces = [0, 1, 65536, MIN_PART_SIZE - 1, 2 * MIN_PART_SIZE + 3, len(data)]
    for start, end in itertools.pairwise(pieces):
        upload.write(data[start:end])
    upload.finish()
    assert [len(part) for part in client.parts] == [MIN_PART_SIZE] * 3 + [12345]
    assert b"".join(client.parts) == data
    assert len(set(client.bodies)) == 2


@pytest.mark.parametrize(
    ("code", "status", "reason"),
    [
        ("InvalidAccessKeyId", 403, Reason.AUTH_FAILED),
        ("SignatureDoesNotMatch", 403, Reason.AUTH_FAILED),
        ("ExpiredToken", 400, Reason.AUTH_FAILED),
        ("InvalidIdentityToken", 400, Reason.AUTH_FAILED),
        ("AccessDenied", 403, Reason.PERMISSION_DENIED),
        ("NoSuchBucket", 404, Reason.DESTINATION_UNAVAILABLE),
        ("InternalError", 500, Reason.DESTINATION_UNAVAILABLE),
        ("SlowDown", 503, Reason.DESTINATION_UNAVAILABLE),
        ("NoSuchUpload", 404, Reason.UPLOAD_FAILED),
        ("EntityTooSmall", 400, Reason.UPLOAD_FAILED),
    ],
)
def test_s3_reasons(code: str, status: int, reason: Reason) -> None:
    assert s3_reason(code, status) is reason


def test_auth_failures_are_permanent_and_unreachable_is_retryable() -> None:
    response: Any = {
        "Error": {"Code": "InvalidAccessKeyId", "Message": "no such key"},
        "ResponseMetadata": {"HTTPStatusCode": 403},
    }
    denied = ClientError(response, "CreateMultipartUpload")
    error = s3_error("start an upload", denied)
    assert (error.reason, error.message) == (
        Reason.AUTH_FAILED,
        "cannot start an upload: InvalidAccessKeyId: no such key",
    )
    unreachable = s3_error("start", EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    assert unreachable.reason is Reason.DESTINATION_UNAVAILABLE


def _container(**spec: Any) -> dict[str, Any]:
    job = build_job(backup(**spec), 1, Settings())
    container: dict[str, Any] = job["spec"]["template"]["spec"]["containers"][0]
    return container


def test_the_job_reaches_s3_with_credentials_only_from_the_secret() -> None:
    container = _container(destination={"s3": S3}, verify="full")
    command = container["command"]
    assert command[3:8] == [
        "--s3-bucket=tenant-backups",
        f"--s3-key={KEY}",
        "--s3-region=eu-west-1",
        "--s3-checksum=when_required",
        f"--artifact-url=s3://tenant-backups/{KEY}",
    ]
    assert "--verify=full" in command
    assert not any(
        arg.startswith(("--output", "--s3-endpoint", "--s3-download")) for arg in command
    )
    env = {e["name"]: e for e in container["env"]}
    assert env["AWS_SECRET_ACCESS_KEY"] == {
        "name": "AWS_SECRET_ACCESS_KEY",
        "valueFrom": {
            "secretKeyRef": {"name": "s3-creds", "key": "secretAccessKey", "optional": False}
        },
    }
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["key"] == "accessKeyId"
    assert env["AWS_SESSION_TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert all("value" not in e for name, e in env.items() if name.startswith("AWS_"))
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]  # no destination


def test_endpoint_link_and_custom_ca_options() -> None:
    s3 = S3 | {
        "endpoint": "https://minio.storage:9000",
        "forcePathStyle": True,
        "checksumCalculation": "when_supported",
        "downloadLink": {"expiresInSeconds": 900},
        "caConfigMapRef": {"name": "corp-ca", "key": "bundle.pem"},
    }
    plan = plan_destination(backup(destination={"s3": s3}))
    assert plan.args[3:] == [
        "--s3-checksum=when_supported",
        "--s3-endpoint=https://minio.storage:9000",
        "--s3-force-path-style",
        "--s3-ca-file=/etc/tenant-backup/s3-ca/ca.crt",
        "--s3-download-link-seconds=900",
    ]
    assert plan.volumes == [
        {
            "name": "s3-ca",
            "configMap": {"name": "corp-ca", "items": [{"key": "bundle.pem", "path": "ca.crt"}]},
        }
    ]
    assert plan.volume_mounts == [
        {"name": "s3-ca", "mountPath": "/etc/tenant-backup/s3-ca", "readOnly": True}
    ]
    secret_ca = plan_destination(backup(destination={"s3": S3 | {"caSecretRef": {"name": "ca"}}}))
    assert secret_ca.volumes[0]["secret"] == {
        "secretName": "ca",
        "items": [{"key": "ca.crt", "path": "ca.crt"}],
    }


def test_preflight_names_a_missing_or_incomplete_s3_secret() -> None:
    tb = backup(destination={"s3": S3})
    assert destination_secret_problem(tb, lambda name: None) == (
        "Secret s3-creds not found in namespace team-a"
    )
    assert destination_secret_problem(tb, lambda name: {"accessKeyId": "a"}) == (
        "Secret s3-creds lacks the keys: secretAccessKey"
    )
    full = {"accessKeyId": "a", "secretAccessKey": "b"}
    assert destination_secret_problem(tb, lambda name: full) is None
    assert destination_secret_problem(backup(), lambda name: None) is None  # pvc: no Secret


def test_the_default_credential_chain_is_exactly_one_choice_and_needs_no_secret() -> None:
    chain: dict[str, Any] = {k: v for k, v in S3.items() if k != "credentialsSecretRef"}
    chain["defaultCredentialChain"] = True
    tb = backup(destination={"s3": chain})
    assert tb.spec.destination.s3 is not None
    assert tb.spec.destination.s3.credentials is S3Credentials.DEFAULT_CHAIN
    container = _container(destination={"s3": chain})
    assert "--s3-credentials=default-chain" in container["command"]
    assert not any(e["name"].startswith("AWS_") for e in container.get("env", []))
    assert destination_secret_problem(tb, lambda name: None) is None
    prune = plan_access(tb.spec.destination)
    assert "--s3-credentials=default-chain" in prune.args
    assert prune.env == []
    keys = plan_access(backup(destination={"s3": S3}).spec.destination)
    assert not any(arg.startswith("--s3-credentials") for arg in keys.args)  # as before
    for wrong in (
        {**S3, "defaultCredentialChain": True},
        {**chain, "defaultCredentialChain": False},
    ):
        with pytest.raises(ValidationError, match="exactly one of credentialsSecretRef"):
            backup(destination={"s3": wrong})


def _result(url: str) -> DumpResult:
    return DumpResult(
        ok=True,
        message="dumped tenant acme",
        artifact=ResultArtifact(
            url="s3://b/k",
            size_bytes=10,
            sha256="a" * 64,
            format="custom",
            compression="zstd",
            verification=ReadBack.TOC,
            download_url=url,
            download_url_expires_at=T0,
        ),
    )


def test_download_link_stays_in_the_message_unless_it_cannot_fit() -> None:
    url = "http://127.0.0.1:9000/b/k?X-Amz-Signature=" + "f" * 64
    result = _result(url)
    assert url in result.to_message()
    assert url not in result.public().to_message()
    assert result.public().artifact is not None
    huge = _result("http://x/?" + "t" * TERMINATION_MESSAGE_LIMIT)
    message = huge.to_message()
    assert len(message.encode()) <= TERMINATION_MESSAGE_LIMIT
    assert "downloadUrl" not in message
    assert '"sha256":"' + "a" * 64 in message


def test_verified_condition() -> None:
    now = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)
    full = with_verified([], "full", False, now, 1)
    assert [(c.type, c.status, c.reason) for c in full] == [
        (ConditionType.VERIFIED, "True", "FullyVerified")
    ]
    again = with_verified(full, "full", False, datetime(2026, 11, 25, 13, tzinfo=UTC), 1)
    assert again[0].last_transition_time == now
    failed = with_verified([], None, True, now, 1)
    assert [(c.status, c.reason) for c in failed] == [("False", "VerificationFailed")]
    assert with_verified([], None, False, now, 1) == []


PLAIN = (
    b"--\nCREATE SCHEMA tenant_acme;\n"
    + b"x" * 50_000
    + (b"\n-- PostgreSQL database dump complete\n--\n")
)


def _stream_verify(data: bytes, piece: int) -> None:
    with StreamVerifier(
        DumpFormat.PLAIN,
        Compression.GZIP,
        Verification.TOC,
        "tenant_acme",
        "pg_restore",
        Interrupts(),
    ) as verifier:
        for start in range(0, len(data), piece):
            verifier.feed(data[start : start + piece])
        verifier.finish()


@pytest.mark.parametrize("piece", [1, 1000, 1 << 20])
def test_stream_verifier_passes_a_plain_gzip_dump_however_chunked(piece: int) -> None:
    _stream_verify(gzip.compress(PLAIN), piece)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (gzip.compress(PLAIN)[:-20], "the gzip stream is truncated"),
        (gzip.compress(PLAIN[:-30]), "trailer"),
        (b"plainly not gzip", "cannot decompress"),
    ],
)
def test_stream_verifier_refuses_broken_streams(data: bytes, problem: str) -> None:
    with pytest.raises(RunError) as caught:
        _stream_verify(data, 1000)
    assert caught.value.reason is Reason.VERIFICATION_FAILED
    assert problem in caught.value.message


def _loaded_after(imports: str) -> set[str]:
    code = f"import sys\n{imports}\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2] / "operator",
    ).stdout
    return {name.split(".")[0] for name in out.split()} | set(out.split())


def test_the_operator_never_loads_boto3_and_the_runner_never_loads_kubernetes() -> None:
    operator = _loaded_after(
        "import tenant_backup.cli, tenant_backup.backup.handlers, tenant_backup.operator_command"
    )
    assert not {"boto3", "botocore"} & operator
    runner = _loaded_after("import tenant_backup.cli, tenant_backup.runner.destinations.s3")
    assert "botocore" in runner
    assert (
        not {"kopf", "kubernetes", "tenant_backup.adapters.kube", "tenant_backup.backup.handlers"}
        & runner
    )


def test_the_cli_offers_kopfs_log_formats() -> None:
    import kopf

    from tenant_backup.operator_command import LOG_FORMATS

    assert list(LOG_FORMATS) == [f.name.lower() for f in kopf.LogFormat]


def test_a_file_read_loads_no_s3_client(tmp_path: Path) -> None:
    artifact = tmp_path / "a.dump"
    artifact.write_bytes(b"abc")
    sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    loaded = _loaded_after(
        "import tenant_backup.runner.options\n"  # first: it imports the destinations package
        "from tenant_backup.api.contract import parse_artifact_url as parse\n"
        "from tenant_backup.runner.destinations import open_reader\n"
        "from tenant_backup.runner.destinations.access import Access\n"
        f"with open_reader(parse({artifact.as_uri()!r}), Access(), {sha256!r}) as chunks:\n"
        "    assert b''.join(chunks) == b'abc'"
    )
    assert "tenant_backup.runner.destinations.local" in loaded
    assert not {"botocore", "tenant_backup.runner.destinations.s3_client"} & loaded


def test_the_default_chain_asks_sts_in_the_buckets_region_unless_the_environment_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")  # the chain's first source
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    assert chain_session("eu-west-1").get_config_variable("region") == "eu-west-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")  # IRSA's webhook sets it (and AWS_REGION)
    assert chain_session("eu-west-1").get_config_variable("region") == "us-west-2"
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for variable in ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(variable, raising=False)
    with pytest.raises(RunError, match="found no credentials") as nothing:
        chain_session("eu-west-1")
    assert nothing.value.reason is Reason.AUTH_FAILED
