"""Local (or mounted PVC) file destination: a temp file beside the output, fsynced, read back
for verification, then renamed into place atomically; read back and deleted by path.

The temp file (`.<name>.partial-<random>`) sits beside the output so the rename is atomic;
until `commit()` nothing exists at the output path, and `abort()` removes the temp file. A
run killed outright (SIGKILL, an OOM kill) cannot remove its own: the next run of the same
output removes them.

Modes: the Jobs the operator runs share one group (the pod's fsGroup), not one user, so an
artifact is 0640 (readable by the group) and a directory the runner creates is 02770
(writable by the group, so its members may delete the artifacts in it; setgid, so what is
created inside belongs to the directory's group too).
"""

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from tenant_backup.api.reasons import Reason
from tenant_backup.runner.destinations.base import (
    DeleteOutcome,
    Digest,
    DownloadLink,
    checked,
    delete_outcome,
)
from tenant_backup.runner.errors import RunError

log = logging.getLogger(__name__)

FILE_MODE = 0o640
DIRECTORY_MODE = 0o2770


def _destination_error(action: str, exc: OSError) -> RunError:
    return RunError(Reason.DESTINATION_UNAVAILABLE, f"{action}: {exc}")


def make_directories(directory: Path) -> None:
    """Create `directory` and its missing parents, each with DIRECTORY_MODE (whatever the
    umask); existing ones are left as they are."""
    missing: list[Path] = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for new in reversed(missing):
        with contextlib.suppress(FileExistsError):  # a concurrent run made it
            new.mkdir()
            new.chmod(DIRECTORY_MODE)


def remove_stale_partials(output: Path) -> None:
    """Delete the temp files of `output` (`.<name>.partial-*`, nothing else) that killed
    earlier runs left; a failure is only logged."""
    prefix = f".{output.name}.partial-"
    try:
        with os.scandir(output.parent) as entries:
            stale = [
                e.path
                for e in entries
                if e.name.startswith(prefix) and e.is_file(follow_symlinks=False)
            ]
        for path in stale:
            os.unlink(path)
            log.info("removed %s, left by an earlier run", path)
    except OSError as exc:
        log.warning("cannot remove the temp files earlier runs left: %s", exc)


def _sync_directory(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class LocalUpload:
    """One artifact file being written."""

    def __init__(self, output: Path, url: str) -> None:
        self.output = output
        self.url = url
        try:
            make_directories(output.parent)
            remove_stale_partials(output)
            fd, name = tempfile.mkstemp(dir=output.parent, prefix=f".{output.name}.partial-")
        except OSError as exc:
            raise _destination_error(f"cannot create a file in {output.parent}", exc) from exc
        self.temp_path = Path(name)
        self._file: BinaryIO = os.fdopen(fd, "wb")
        self.committed = False
        try:
            os.fchmod(fd, FILE_MODE)
        except OSError as exc:
            self.abort()
            raise _destination_error(f"cannot set the mode of {self.temp_path}", exc) from exc

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
            _sync_directory(self.output.parent)
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

    def throttled(self) -> None:
        """Files have no rate limits."""
        return None


def _access_error(action: str, exc: OSError) -> RunError:
    """A failed read or delete: no such file, not allowed, or the file system failing."""
    if isinstance(exc, FileNotFoundError | NotADirectoryError):
        reason = Reason.ARTIFACT_NOT_FOUND
    elif isinstance(exc, PermissionError):
        reason = Reason.PERMISSION_DENIED
    else:
        reason = Reason.DESTINATION_UNAVAILABLE
    return RunError(reason, f"cannot {action}: {exc.strerror or exc}")


class LocalArtifact:
    """A committed artifact file."""

    def __init__(self, path: Path, url: str) -> None:
        self.path = path
        self.url = url

    @contextlib.contextmanager
    def open_reader(self, expected_sha256: str, chunk_size: int) -> Iterator[Iterator[bytes]]:
        """The file's bytes in chunks, its sha256 checked at the end."""
        try:
            file = self.path.open("rb")
        except OSError as exc:
            raise _access_error(f"open {self.url}", exc) from exc
        with file:
            yield checked(self._chunks(file, chunk_size), expected_sha256, self.url)

    def _chunks(self, file: BinaryIO, chunk_size: int) -> Iterator[bytes]:
        try:
            while chunk := file.read(chunk_size):
                yield chunk
        except OSError as exc:
            raise _access_error(f"read {self.url}", exc) from exc

    def delete(self) -> DeleteOutcome:
        """Unlink the file, durably; a missing one is already gone."""
        try:
            self.path.unlink()
            _sync_directory(self.path.parent)
        except FileNotFoundError:
            return delete_outcome(removed=False)
        except OSError as exc:
            raise _access_error(f"delete {self.url}", exc) from exc
        log.info("deleted %s", self.url)
        return delete_outcome(removed=True)
