"""`tenant-backup dump` to a local stand-in for the cloud Bot API: the artifact goes out in
parts and a manifest, reassembles byte for byte, survives rate limits, fails cleanly (no
manifest, parts deleted), and the bot token appears in no output."""

from __future__ import annotations

import hashlib
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from devenv.postgres import DEFAULT_BIN_DIR
from devenv.processes import free_port
from devenv.telegram_restore import reassemble
from devenv.telegram_stand_in import BotApiStandIn
from devenv.tenants import Database
from tests.support.dump_runs import (
    Run,
    add_blobs,
    assert_failed,
    terminated,
    wrapper_bin,
)
from tests.support.telegram_runs import CHAT, FILE, dump_env, run_to_telegram, telegram_argv

MIB = 1 << 20
BLOB_ROWS = 3_000  # ~3 MiB of incompressible artifact: four 1 MiB parts


@pytest.fixture
def big_tenant_db(tenant_db: Database) -> Database:
    """tenant_db whose tenant_acme holds ~3 MiB of incompressible rows."""
    add_blobs(tenant_db, BLOB_ROWS)
    return tenant_db


def test_dump_goes_out_in_parts_and_a_manifest_that_reassembles_it(
    big_tenant_db: Database, bot_api: BotApiStandIn, tmp_path: Path
) -> None:
    run = run_to_telegram(big_tenant_db, bot_api, tmp_path, "--telegram-part-size", str(MIB))
    assert run.returncode == 0, run.stderr
    artifact = run.result["artifact"]
    *parts, manifest_message = bot_api.live()
    assert artifact["url"] == f"telegram://{CHAT}/{manifest_message.message_id}"
    assert (artifact["format"], artifact["compression"]) == ("custom", "zstd")
    assert artifact["verification"] == "toc"
    assert "verifying the stream: " in run.stderr

    assert manifest_message.document is not None
    assert manifest_message.document.file_name == FILE + ".manifest.json"
    manifest, body = reassemble(bot_api.url, bot_api.token, artifact["url"])
    assert hashlib.sha256(body).hexdigest() == manifest["sha256"] == artifact["sha256"]
    assert len(body) == manifest["sizeBytes"] == artifact["sizeBytes"] > 3 * MIB
    assert (manifest["fileName"], manifest["tenant"], manifest["format"]) == (
        FILE,
        "acme",
        "custom",
    )
    assert manifest["compression"] == "zstd"
    assert manifest["pgDumpVersion"] == run.result["pgDumpVersion"]
    assert len(parts) == len(manifest["parts"]) >= 4
    for number, (message, listed) in enumerate(zip(parts, manifest["parts"], strict=True), 1):
        assert message.document is not None
        data = message.document.data
        assert listed["part"] == number
        assert listed["messageId"] == message.message_id
        assert listed["fileName"] == message.document.file_name == f"{FILE}.part{number:04d}"
        assert listed["sizeBytes"] == len(data) <= MIB
        assert listed["sha256"] == hashlib.sha256(data).hexdigest()
        assert message.caption == (
            f"{FILE} part {number}, {len(data)} bytes, sha256 {listed['sha256']}"
        )
    for message in (*parts, manifest_message):
        assert {"disable_notification", "disable_content_type_detection"} <= message.options
    assert "editMessageCaption" not in [call.method for call in bot_api.calls]
    assert artifact["pacedSeconds"] >= 1  # five sends to a supergroup, a second apart
    assert artifact["rateLimitedSeconds"] == 0
    assert manifest_message.caption is not None
    assert manifest_message.caption.endswith(f"sha256 {artifact['sha256']}")
    listing = subprocess.run(
        [str(DEFAULT_BIN_DIR / "pg_restore"), "--list"],
        input=zstandard.ZstdDecompressor().decompressobj().decompress(body),
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert "TABLE DATA tenant_acme blobs" in listing


def test_rate_limits_are_waited_out_as_told(
    tenant_db: Database, bot_api: BotApiStandIn, tmp_path: Path
) -> None:
    bot_api.rate_limit(calls=2, retry_after=2)
    run = run_to_telegram(tenant_db, bot_api, tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stderr.count("rate limited, retry in 2s") == 2
    statuses = [call.status for call in bot_api.calls]
    assert statuses[:3] == [429, 429, 200]
    first, second, third = bot_api.calls[:3]
    assert second.at - first.at >= 2
    assert third.at - second.at >= 2
    *_, manifest_message = bot_api.live()
    assert run.result["artifact"]["url"] == f"telegram://{CHAT}/{manifest_message.message_id}"


def test_endless_rate_limits_give_up_retryably(
    tenant_db: Database, bot_api: BotApiStandIn, tmp_path: Path
) -> None:
    bot_api.rate_limit(calls=100, retry_after=3600)
    run = run_to_telegram(tenant_db, bot_api, tmp_path)
    assert_failed(run, "DestinationUnavailable", retryable=True)
    assert "still rate limited" in run.result["message"]


def test_a_part_over_the_server_limit_is_a_clear_failure_leaving_nothing(
    big_tenant_db: Database, bot_api: BotApiStandIn, tmp_path: Path
) -> None:
    bot_api.upload_limit = 3 * MIB // 2
    run = run_to_telegram(big_tenant_db, bot_api, tmp_path, "--telegram-part-size", str(2 * MIB))
    assert_failed(run, "ValidationFailed", retryable=False)
    assert "Bot API sendDocument: HTTP 413: Request Entity Too Large" in run.result["message"]
    assert "partSizeBytes" in run.result["message"]
    assert bot_api.live() == []


def test_a_stream_failing_verification_gets_no_manifest_and_its_parts_deleted(
    tenant_db: Database, bot_api: BotApiStandIn, tmp_path: Path
) -> None:
    bin_dir = wrapper_bin(tmp_path / "bin", "head -c 3000000 /dev/urandom\n")
    args = ("--pg-bin-dir", str(bin_dir), "--compression=none", "--telegram-part-size", str(MIB))
    run = run_to_telegram(tenant_db, bot_api, tmp_path, *args)
    assert_failed(run, "VerificationFailed", retryable=False)
    sent = [m for m in bot_api.messages if m.document is not None]
    assert len(sent) == 3
    assert all(m.deleted for m in sent)
    assert not any(m.document.file_name.endswith(".manifest.json") for m in sent if m.document)
    assert "deleted the 3 parts sent" in run.stderr


def _terminated(
    db: Database, api: BotApiStandIn, tmp_path: Path, ready: Callable[[], object], *args: str
) -> tuple[Run, float]:
    result_file = tmp_path / "result.json"
    argv = telegram_argv(api.url, result_file, *args)
    return terminated(argv, dump_env(db, api.token), result_file, ready, [api.token])


def test_sigterm_mid_upload_sends_no_manifest_and_deletes_the_parts(
    tenant_db: Database, bot_api: BotApiStandIn, tmp_path: Path
) -> None:
    bin_dir = wrapper_bin(tmp_path / "bin", "head -c 3000000 /dev/urandom\nexec sleep 300\n")
    args = ("--compression=none", "--telegram-part-size", str(MIB), "--pg-bin-dir", str(bin_dir))
    run, _ = _terminated(tenant_db, bot_api, tmp_path, lambda: len(bot_api.messages) >= 2, *args)
    assert_failed(run, "DumpInterrupted", retryable=True)
    assert run.returncode == 128 + signal.SIGTERM
    assert len(bot_api.messages) == 2
    assert bot_api.live() == []


def test_sigterm_ends_a_rate_limit_wait_at_once(
    tenant_db: Database, bot_api: BotApiStandIn, tmp_path: Path
) -> None:
    bot_api.rate_limit(calls=100, retry_after=60)
    run, ended = _terminated(tenant_db, bot_api, tmp_path, lambda: bot_api.calls)
    assert_failed(run, "DumpInterrupted", retryable=True)
    assert ended < 5
    assert "rate limited, retry in 60s" in run.stderr


def test_a_wrong_token_is_auth_failed_before_dumping(
    tenant_db: Database, bot_api: BotApiStandIn, tmp_path: Path
) -> None:
    wrong = bot_api.token.split(":")[0] + ":not-the-real-token-at-all"
    run = run_to_telegram(tenant_db, bot_api, tmp_path, token=wrong)
    assert_failed(run, "AuthFailed", retryable=False)
    assert run.result["message"] == "Bot API getMe: HTTP 401: Unauthorized"
    assert "running " not in run.stderr  # pg_dump never started
    assert [(call.method, call.status) for call in bot_api.calls] == [("getMe", 401)]
    assert bot_api.messages == []


def test_an_unreachable_api_is_destination_unavailable(
    tenant_db: Database, bot_api: BotApiStandIn, tmp_path: Path
) -> None:
    run = run_to_telegram(tenant_db, bot_api, tmp_path, api_url=f"http://127.0.0.1:{free_port()}")
    assert_failed(run, "DestinationUnavailable", retryable=True)
    assert "Connection refused" in run.result["message"]
