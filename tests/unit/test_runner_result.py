"""The result a runner writes, as the operator parses it (pydantic over the same dataclasses)."""

import dataclasses
import json

import pytest
from pydantic import TypeAdapter, ValidationError

from tenant_backup.api.contract import ReadBack
from tenant_backup.api.reasons import Reason
from tenant_backup.api.result import (
    TERMINATION_MESSAGE_LIMIT,
    DumpResult,
    ResultArtifact,
    RunResult,
    camel,
)
from tests.support.factories import T0, success_message

PARSE = TypeAdapter(DumpResult)


def _artifact() -> ResultArtifact:
    """The artifact of the runner's success message that the other tests use."""
    artifact = PARSE.validate_json(success_message("pvc://backups/acme/a.pgdump.zst")).artifact
    assert artifact is not None
    return dataclasses.replace(artifact, verification=ReadBack.TOC)


ARTIFACT = _artifact()


def test_a_success_round_trips_in_camel_case() -> None:
    result = DumpResult(
        ok=True,
        reason=Reason.SUCCEEDED,
        message="dumped tenant acme",
        artifact=ARTIFACT,
        server_version="15.18",
        pg_dump_version="15.18",
    )
    text = result.to_message()
    assert json.loads(text) == {
        "ok": True,
        "reason": "Succeeded",
        "retryable": False,
        "message": "dumped tenant acme",
        "artifact": {
            "url": "pvc://backups/acme/a.pgdump.zst",
            "sizeBytes": 4096,
            "sha256": "a" * 64,
            "format": "custom",
            "compression": "zstd",
            "verification": "toc",
        },
        "serverVersion": "15.18",
        "pgDumpVersion": "15.18",
    }
    assert PARSE.validate_json(text) == result


def test_a_failure_is_the_common_fields_first() -> None:
    failed = DumpResult(
        ok=False, reason=Reason.LOCK_TIMEOUT, retryable=True, message="m", server_version="15.18"
    )
    assert failed.to_json() == (
        '{"ok":false,"reason":"LockTimeout","retryable":true,"message":"m","serverVersion":"15.18"}'
    )
    assert PARSE.validate_json(failed.to_json()) == failed
    base = RunResult(ok=False, reason=Reason.LOCK_TIMEOUT, retryable=True, message="m")
    assert PARSE.validate_json(base.to_json()) == DumpResult(**vars(base))


def test_a_download_link_and_its_expiry_parse_back() -> None:
    artifact = ResultArtifact(
        **(vars(ARTIFACT) | {"download_url": "https://s3/x?sig", "download_url_expires_at": T0})
    )
    result = DumpResult(ok=True, reason=Reason.SUCCEEDED, artifact=artifact)
    assert PARSE.validate_json(result.to_message()) == result
    assert result.public().artifact == ARTIFACT
    assert (
        result.public().to_message()
        == DumpResult(ok=True, reason=Reason.SUCCEEDED, artifact=ARTIFACT).to_message()
    )


@pytest.mark.parametrize(
    "artifact",
    [
        {"sizeBytes": 0},
        {"sha256": "A" * 64},
        {"sha256": "a" * 63},
        {"verification": "looked"},
    ],
)
def test_the_operator_rejects_a_bad_artifact(artifact: dict[str, object]) -> None:
    good = json.loads(DumpResult(ok=True, artifact=ARTIFACT).to_json())
    good["artifact"] |= artifact
    with pytest.raises(ValidationError):
        PARSE.validate_json(json.dumps(good))


def test_the_runner_cannot_make_a_bad_artifact() -> None:
    with pytest.raises(ValueError, match="sizeBytes"):
        ResultArtifact(**(vars(ARTIFACT) | {"size_bytes": 0}))
    with pytest.raises(ValueError, match="sha256"):
        ResultArtifact(**(vars(ARTIFACT) | {"sha256": "xyz"}))


@pytest.mark.parametrize("unit", ["x", "é", "\n", '"', "\u2028"])
def test_a_long_message_is_shortened_to_fit(unit: str) -> None:
    result = DumpResult(ok=False, reason=Reason.DUMP_FAILED, retryable=True, message=unit * 10_000)
    text = result.to_message()
    assert TERMINATION_MESSAGE_LIMIT - 6 < len(text.encode()) <= TERMINATION_MESSAGE_LIMIT
    parsed = PARSE.validate_json(text)
    assert parsed.message.endswith("...")
    assert parsed.message.startswith(unit * 100)


def test_camel() -> None:
    assert [camel(name) for name in ("ok", "size_bytes", "download_url_expires_at")] == [
        "ok",
        "sizeBytes",
        "downloadUrlExpiresAt",
    ]
