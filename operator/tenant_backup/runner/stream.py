"""The artifact writer: compress, count and hash a byte stream into a temp file, then commit.

The temp file (`.<name>.partial-<random>`) sits beside the output so the final rename is
atomic; until `commit()` nothing exists at the output path, and `discard()` removes the temp.
"""

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import zstandard

from tenant_backup.api.reasons import Reason
from tenant_backup.runner.errors import DumpError

CHUNK_SIZE = 1 << 20


def _destination_error(action: str, exc: OSError) -> DumpError:
    return DumpError(Reason.DESTINATION_UNAVAILABLE, f"{action}: {exc}")


class ArtifactWriter:
    """Writes one artifact; `size`/`sha256` describe the bytes on disk (after compression)."""

    def __init__(self, output: Path, zstd_level: int | None) -> None:
        self.output = output
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.partial-")
        except OSError as exc:
            raise _destination_error(f"cannot create a file in {output.parent}", exc) from exc
        self.temp_path = Path(name)
        self._file: BinaryIO = os.fdopen(fd, "wb")
        self._compressor = (
            None
            if zstd_level is None
            else zstandard.ZstdCompressor(
                level=zstd_level, threads=-1, write_checksum=True
            ).compressobj()
        )
        self._hash = hashlib.sha256()
        self.input_size = 0
        self.size = 0
        self.committed = False

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the bytes written so far."""
        return self._hash.hexdigest()

    def _emit(self, data: bytes) -> None:
        if not data:
            return
        try:
            self._file.write(data)
        except OSError as exc:
            raise _destination_error(f"cannot write {self.temp_path}", exc) from exc
        self._hash.update(data)
        self.size += len(data)

    def write(self, chunk: bytes) -> None:
        """Add `chunk` of the dump (compressing it if the runner compresses)."""
        self.input_size += len(chunk)
        self._emit(chunk if self._compressor is None else self._compressor.compress(chunk))

    def finish(self) -> None:
        """End compression and make the temp file durable."""
        if self._compressor is not None:
            self._emit(self._compressor.flush())
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        except OSError as exc:
            raise _destination_error(f"cannot sync {self.temp_path}", exc) from exc

    def commit(self) -> None:
        """Rename the finished temp file to the output path, durably."""
        try:
            os.replace(self.temp_path, self.output)
        except OSError as exc:
            raise _destination_error(f"cannot rename to {self.output}", exc) from exc
        try:
            dir_fd = os.open(self.output.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        except OSError as exc:
            self.output.unlink(missing_ok=True)  # a failed run leaves nothing at the output
            raise _destination_error(f"cannot sync {self.output.parent}", exc) from exc
        self.committed = True

    def discard(self) -> None:
        """Close and delete the temp file (no-op after commit)."""
        if self.committed:
            return
        with contextlib.suppress(OSError):
            self._file.close()
        self.temp_path.unlink(missing_ok=True)


@contextlib.contextmanager
def artifact_writer(output: Path, zstd_level: int | None) -> Iterator[ArtifactWriter]:
    """An ArtifactWriter whose temp file is deleted unless the block committed it."""
    writer = ArtifactWriter(output, zstd_level)
    try:
        yield writer
    finally:
        writer.discard()
