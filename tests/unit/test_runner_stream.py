"""The artifact stream into the local destination: counts and hashes what it writes; nothing at
the output until commit, nothing left after an abort."""

import hashlib
import os
from pathlib import Path

import pytest
import zstandard

from tenant_backup.api.reasons import Reason
from tenant_backup.runner.destinations.base import aborted_unless_committed
from tenant_backup.runner.destinations.local import LocalUpload
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.stream import ArtifactStream

DATA = [os.urandom(1000) + b"a" * 300_000 for _ in range(5)]


def _partials(directory: Path) -> list[Path]:
    return list(directory.glob(".out.partial-*"))


def test_uncompressed_bytes_are_counted_and_hashed(tmp_path: Path) -> None:
    output = tmp_path / "out"
    tapped: list[bytes] = []
    with aborted_unless_committed(LocalUpload(output, "file:///out")) as upload:
        assert isinstance(upload, LocalUpload)
        assert upload.temp_path.parent == tmp_path
        assert upload.temp_path.name.startswith(".out.partial-")
        stream = ArtifactStream(upload, None, tapped.append)
        for chunk in DATA:
            stream.write(chunk)
        stream.finish()
        assert not output.exists()
        assert upload.local_copy() == upload.temp_path
        upload.commit(stream.digest)
    content = output.read_bytes()
    assert content == b"".join(DATA) == b"".join(tapped)
    assert stream.size == stream.input_size == len(content)
    assert stream.digest.sha256 == hashlib.sha256(content).hexdigest()
    assert stream.digest.size_bytes == len(content)
    assert _partials(tmp_path) == []


def test_zstd_describes_the_compressed_file(tmp_path: Path) -> None:
    output = tmp_path / "out"
    tapped: list[bytes] = []
    with aborted_unless_committed(LocalUpload(output, "file:///out")) as upload:
        stream = ArtifactStream(upload, 1, tapped.append)
        for chunk in DATA:
            stream.write(chunk)
        stream.finish()
        upload.commit(stream.digest)
    content = output.read_bytes()
    assert content == b"".join(tapped)  # the tap sees the artifact bytes, not the dump's
    assert stream.input_size == sum(map(len, DATA))
    assert stream.size == len(content) < stream.input_size
    assert stream.digest.sha256 == hashlib.sha256(content).hexdigest()
    assert zstandard.ZstdDecompressor().decompressobj().decompress(content) == b"".join(DATA)


def _write_then_fail(output: Path) -> None:
    with aborted_unless_committed(LocalUpload(output, "file:///out")) as upload:
        ArtifactStream(upload, 3).write(b"partial" * 100_000)
        raise RuntimeError("pg_dump died")


def test_failure_inside_the_block_leaves_nothing(tmp_path: Path) -> None:
    output = tmp_path / "out"
    with pytest.raises(RuntimeError):
        _write_then_fail(output)
    assert not output.exists()
    assert _partials(tmp_path) == []


def test_missing_directory_is_a_destination_problem(tmp_path: Path) -> None:
    (tmp_path / "no").write_text("a file where a directory should be")
    with pytest.raises(RunError) as caught:
        LocalUpload(tmp_path / "no" / "out", "file:///out")
    assert caught.value.reason is Reason.DESTINATION_UNAVAILABLE
