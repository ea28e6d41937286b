"""The artifact writer: counts and hashes what it writes; nothing at the output until commit."""

import hashlib
import os
from pathlib import Path

import pytest
import zstandard

from tenant_backup.api.reasons import Reason
from tenant_backup.runner.errors import DumpError
from tenant_backup.runner.stream import artifact_writer

DATA = [os.urandom(1000) + b"a" * 300_000 for _ in range(5)]


def _partials(directory: Path) -> list[Path]:
    return list(directory.glob(".out.partial-*"))


def test_uncompressed_bytes_are_counted_and_hashed(tmp_path: Path) -> None:
    output = tmp_path / "out"
    with artifact_writer(output, None) as writer:
        assert writer.temp_path.parent == tmp_path
        assert writer.temp_path.name.startswith(".out.partial-")
        for chunk in DATA:
            writer.write(chunk)
        writer.finish()
        assert not output.exists()
        writer.commit()
    content = output.read_bytes()
    assert content == b"".join(DATA)
    assert writer.size == writer.input_size == len(content)
    assert writer.sha256 == hashlib.sha256(content).hexdigest()
    assert _partials(tmp_path) == []


def test_zstd_describes_the_compressed_file(tmp_path: Path) -> None:
    output = tmp_path / "out"
    with artifact_writer(output, 1) as writer:
        for chunk in DATA:
            writer.write(chunk)
        writer.finish()
        writer.commit()
    content = output.read_bytes()
    assert writer.input_size == sum(map(len, DATA))
    assert writer.size == len(content) < writer.input_size
    assert writer.sha256 == hashlib.sha256(content).hexdigest()
    assert zstandard.ZstdDecompressor().decompressobj().decompress(content) == b"".join(DATA)


def _write_then_fail(output: Path) -> None:
    with artifact_writer(output, 3) as writer:
        writer.write(b"partial" * 100_000)
        raise RuntimeError("pg_dump died")


def test_failure_inside_the_block_leaves_nothing(tmp_path: Path) -> None:
    output = tmp_path / "out"
    with pytest.raises(RuntimeError):
        _write_then_fail(output)
    assert not output.exists()
    assert _partials(tmp_path) == []


def test_unwritable_directory_is_a_destination_problem(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(DumpError) as caught, artifact_writer(tmp_path / "file" / "out", None):
        pass
    assert caught.value.reason is Reason.DESTINATION_UNAVAILABLE
