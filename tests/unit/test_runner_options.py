"""`tenant-backup dump` arguments: defaults, and combinations rejected as ValidationFailed."""

import argparse
from pathlib import Path

import pytest

from tenant_backup.api.backup import Timeouts
from tenant_backup.api.contract import Compression, DumpFormat, Verification
from tenant_backup.api.reasons import Reason
from tenant_backup.cli import build_parser
from tenant_backup.runner import options
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.options import from_args


def _parse(*args: str) -> argparse.Namespace:
    return build_parser().parse_args(["dump", "--tenant", "acme", "--output", "/b/a.dump", *args])


def test_defaults() -> None:
    opts = from_args(_parse())
    assert opts.format is DumpFormat.CUSTOM
    assert opts.compression is Compression.ZSTD
    assert opts.compression_level == 1
    assert opts.verify is Verification.TOC
    assert opts.lock_wait_timeout_seconds == Timeouts().lock_wait_timeout_seconds == 60
    assert opts.artifact_url == "file:///b/a.dump"
    assert opts.pg_bin_dir is None


def test_explicit_options() -> None:
    opts = from_args(
        _parse(
            "--format=plain",
            "--compression=gzip",
            "--compression-level=9",
            "--verify=full",
            "--artifact-url=s3://b/k",
            "--lock-wait-timeout-seconds=5",
            "--pg-bin-dir=/opt/pg/bin",
        )
    )
    assert (opts.format, opts.compression, opts.compression_level) == (
        DumpFormat.PLAIN,
        Compression.GZIP,
        9,
    )
    assert opts.verify is Verification.FULL
    assert opts.artifact_url == "s3://b/k"
    assert opts.lock_wait_timeout_seconds == 5
    assert opts.pg_bin_dir == Path("/opt/pg/bin")
    assert from_args(_parse("--compression=gzip")).compression_level == 6
    assert from_args(_parse("--compression=none")).compression_level is None


@pytest.mark.parametrize(
    "args",
    [
        ("--compression=none", "--compression-level=1"),
        ("--compression=zstd", "--compression-level=0"),
        ("--compression=zstd", "--compression-level=20"),
        ("--compression=gzip", "--compression-level=10"),
        ("--lock-wait-timeout-seconds=0",),
    ],
)
def test_invalid_combinations(args: tuple[str, ...]) -> None:
    with pytest.raises(RunError) as caught:
        from_args(_parse(*args))
    assert caught.value.reason is Reason.VALIDATION_FAILED


def test_unknown_choice_is_a_usage_error() -> None:
    with pytest.raises(SystemExit):
        _parse("--compression=lz4")


def test_result_file_defaults_to_the_termination_log_only_if_present(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "termination-log"
    monkeypatch.setattr(options, "TERMINATION_LOG", log)
    assert options.result_file(_parse()) is None
    log.touch()
    assert options.result_file(_parse()) == log
    assert options.result_file(_parse("--result-file=/r.json")) == Path("/r.json")
