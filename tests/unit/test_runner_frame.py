"""The frame of every runner subcommand: one result, redacted, its exit status."""

import io
import json
import logging
import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tenant_backup.api.reasons import Reason
from tenant_backup.api.result import DumpResult, ResultArtifact
from tenant_backup.runner import frame
from tenant_backup.runner.errors import RunError
from tests.support.factories import T0

PASSWORD = "S3cret-Passw0rd-in-env"
LINK = "https://s3.example/b/k?X-Amz-Signature=abc"


@dataclass
class FakeCommand:
    """A subcommand whose body is `body`; it learned a server version before anything failed."""

    body: Callable[[frame.Context], DumpResult]
    failure_reason: Reason = Reason.DUMP_FAILED

    def run(self, context: frame.Context) -> DumpResult:
        return self.body(context)

    def failed(self) -> DumpResult:
        return DumpResult(ok=False, server_version="15.18")


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What the root logger's handlers print, with PGPASSWORD set to a secret."""
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    text = io.StringIO()
    handler = logging.StreamHandler(text)
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    yield text
    root.removeHandler(handler)
    root.setLevel(level)


def _run(body: Callable[[frame.Context], DumpResult], path: Path) -> tuple[int, dict[str, object]]:
    return frame.run(FakeCommand(body), path), json.loads(path.read_text())


def _artifact(link: str) -> ResultArtifact:
    return ResultArtifact(
        url="s3://b/k",
        size_bytes=1,
        sha256="0" * 64,
        format="custom",
        compression="zstd",
        download_url=link,
        download_url_expires_at=T0,
    )


def test_success_goes_whole_to_the_file_and_without_its_link_to_stdout(
    tmp_path: Path, logs: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    def body(context: frame.Context) -> DumpResult:
        context.secrets.add(LINK)
        logging.getLogger("test").info("made %s with %s", LINK, PASSWORD)
        return DumpResult(ok=True, reason=Reason.SUCCEEDED, artifact=_artifact(LINK))

    status, written = _run(body, tmp_path / "result.json")
    assert status == 0
    assert written["artifact"]["downloadUrl"] == LINK  # type: ignore[index]
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line)["ok"] is True
    assert LINK not in line
    assert logs.getvalue() == "made *** with ***\n"
    assert all(not handler.filters for handler in logging.getLogger().handlers)


def test_a_run_error_keeps_what_was_learned_and_redacts_its_message(
    tmp_path: Path, logs: io.StringIO
) -> None:
    def body(context: frame.Context) -> DumpResult:
        raise RunError(Reason.AUTH_FAILED, f"password {PASSWORD} refused; password=abc")

    status, written = _run(body, tmp_path / "result.json")
    assert status == 1
    assert written == {
        "ok": False,
        "reason": "AuthFailed",
        "retryable": False,
        "message": "password *** refused; password=***",
        "serverVersion": "15.18",
    }
    assert PASSWORD not in logs.getvalue()
    assert "failed (AuthFailed)" in logs.getvalue()


def test_a_bug_is_a_retryable_failure_of_the_commands_reason(
    tmp_path: Path, logs: io.StringIO
) -> None:
    def body(context: frame.Context) -> DumpResult:
        raise KeyError(PASSWORD)

    status, written = _run(body, tmp_path / "result.json")
    assert status == 1
    assert (written["reason"], written["retryable"]) == ("DumpFailed", True)
    assert written["message"] == "internal error: KeyError: '***'"
    assert "Traceback" in logs.getvalue()
    assert PASSWORD not in logs.getvalue()


def test_a_signal_fails_the_run_with_128_plus_its_number(tmp_path: Path, logs: io.StringIO) -> None:
    def body(context: frame.Context) -> DumpResult:
        os.kill(os.getpid(), signal.SIGTERM)
        context.interrupts.check()
        raise AssertionError("check() raises once the signal arrived")

    status, written = _run(body, tmp_path / "result.json")
    assert status == 128 + signal.SIGTERM
    assert (written["reason"], written["retryable"]) == ("DumpInterrupted", True)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_an_unwritable_result_file_still_prints_the_result(
    tmp_path: Path, logs: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    status = frame.run(FakeCommand(lambda _: DumpResult(ok=True)), tmp_path / "no" / "r.json")
    assert status == 0
    assert json.loads(capsys.readouterr().out) == {"ok": True, "retryable": False, "message": ""}
    assert "cannot write result" in logs.getvalue()
