"""Verification helpers: which codec wraps the file, TOC and plain-dump checks."""

import gzip
from pathlib import Path

import pytest
import zstandard

from tenant_backup.api.contract import Compression, DumpFormat, ReadBack, Verification
from tenant_backup.api.reasons import Reason
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.verify import (
    outer_codec,
    plain_problems,
    read_artifact,
    read_back,
    toc_lists_schema,
)

TOC = """;
; Archive created at 2026-01-01 00:00:00 UTC
;
12; 2615 16397 SCHEMA - tenant_acme_eu backup_owner
896; 1247 16399 TYPE tenant_acme order_status backup_owner
"""
PLAIN = (
    b"--\n-- x\n--\n\nCREATE SCHEMA tenant_acme;\n\nSELECT 1;\n"
    + b"x" * 10_000
    + (b"\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict abc\n\n")
)


@pytest.mark.parametrize(
    ("fmt", "compression", "codec"),
    [
        (DumpFormat.CUSTOM, Compression.ZSTD, Compression.ZSTD),
        (DumpFormat.PLAIN, Compression.ZSTD, Compression.ZSTD),
        (DumpFormat.PLAIN, Compression.GZIP, Compression.GZIP),
        (DumpFormat.CUSTOM, Compression.GZIP, Compression.NONE),  # compressed inside the archive
        (DumpFormat.CUSTOM, Compression.NONE, Compression.NONE),
        (DumpFormat.PLAIN, Compression.NONE, Compression.NONE),
    ],
)
def test_outer_codec(fmt: DumpFormat, compression: Compression, codec: Compression) -> None:
    assert outer_codec(fmt, compression) is codec


def test_toc_needs_the_exact_schema_entry() -> None:
    assert not toc_lists_schema(TOC, "tenant_acme")  # tenant_acme_eu is not tenant_acme
    assert toc_lists_schema(TOC, "tenant_acme_eu")
    assert toc_lists_schema(TOC.replace("tenant_acme_eu", "tenant_acme"), "tenant_acme")


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 7, 64, 100_000])
def test_plain_dump_passes_whatever_the_chunking(size: int) -> None:
    assert plain_problems(_chunks(PLAIN, size), "tenant_acme") == []


def test_plain_dump_problems() -> None:
    truncated = PLAIN[: len(PLAIN) // 2]
    assert plain_problems([truncated], "tenant_acme") == [
        "no '-- PostgreSQL database dump complete' trailer (truncated?)"
    ]
    assert plain_problems([PLAIN], "tenant_acm") == ["no CREATE SCHEMA tenant_acm"]


def test_read_artifact_decompresses(tmp_path: Path) -> None:
    zst = tmp_path / "a.zst"
    zst.write_bytes(zstandard.ZstdCompressor().compress(PLAIN))
    gz = tmp_path / "a.gz"
    gz.write_bytes(gzip.compress(PLAIN))
    assert b"".join(read_artifact(zst, Compression.ZSTD)) == PLAIN
    assert b"".join(read_artifact(gz, Compression.GZIP)) == PLAIN


@pytest.mark.parametrize("codec", [Compression.ZSTD, Compression.GZIP])
def test_corrupt_artifact_fails_verification(tmp_path: Path, codec: Compression) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(b"definitely not compressed" * 10)
    with pytest.raises(RunError) as caught:
        b"".join(read_artifact(bad, codec))
    assert caught.value.reason is Reason.VERIFICATION_FAILED


@pytest.mark.parametrize(
    ("fmt", "mode", "expected"),
    [
        (DumpFormat.CUSTOM, Verification.TOC, ReadBack.TOC),
        (DumpFormat.CUSTOM, Verification.FULL, ReadBack.FULL),
        (DumpFormat.PLAIN, Verification.TOC, ReadBack.SCAN),
        (DumpFormat.PLAIN, Verification.FULL, ReadBack.SCAN),
    ],
)
def test_the_result_says_how_it_was_read_back_not_what_was_asked(
    fmt: DumpFormat, mode: Verification, expected: ReadBack
) -> None:
    assert read_back(fmt, mode) is expected
