"""Local (or mounted PVC) file destination: a temp file beside the output, fsynced, read back
for verification, then renamed into place atomically.

The temp file (`.<name>.partial-<random>`) sits beside the output so the rename is atomic;
until `commit()` nothing exists at the output path, and `abort()` removes the temp file.
"""

import contextlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from tenant_backup.api.reasons import Reason
from tenant_backup.runner.destinations.base import Digest, DownloadLink
from tenant_backup.runner.errors import RunError


def _destination_error(action: str, exc: OSError) -> RunError:
    return RunError(Reason.DESTINATION_UNAVAILABLE, f"{action}: {exc}")


class LocalUpload:
    """One artifact file being written."""

    def __init__(self, output: Path, url: str) -> None:
        self.output = output
        self.url = url
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.partial-")
        except OSError as exc:
            raise _destination_error(f"cannot create a file in {output.parent}", exc) from exc
        self.temp_path = Path(name)
        self._file: BinaryIO = os.fdopen(fd, "wb")
        self.committed = False

    def write(self, data: bytes) -> None:
        """Append to the temp file."""
        try:
            self._file.write(data)
        except OSError as exc:
            raise _destination_error(f"cannot write {self.temp_path}", exc) from exc

    def finish(self) -> None:
        """Make the temp file durable."""
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        except OSError as exc:
            raise _destination_error(f"cannot sync {self.temp_path}", exc) from exc

    def local_copy(self) -> Path:
        """The temp file: verification reads back what is on disk."""
        return self.temp_path

    def commit(self, digest: Digest) -> None:
        """Rename the finished temp file to the output path, durably."""
        del digest  # the file system keeps no metadata of ours
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

    def abort(self) -> None:
        """Close and delete the temp file (no-op after commit)."""
        if self.committed:
            return
        with contextlib.suppress(OSError):
            self._file.close()
        self.temp_path.unlink(missing_ok=True)

    def download_link(self, seconds: int) -> DownloadLink | None:
        """Files have no download links."""
        del seconds
        return None
