"""age encryption of a stream on its way out, and decryption of a spooled file, by pyrage
(the binding of `rage`, the Rust implementation of age-encryption.org/v1).

pyrage encrypts from a file object to a file object (`encrypt_io`): it pulls. The dump
pushes. So `AgeEncryptor` runs `encrypt_io` in a thread that reads a pipe `write` fills and
hands each piece of ciphertext to the sink: memory holds a pipe's buffer and one 64 KiB
age chunk, whatever the artifact's size. The sink is called from that thread only, and
never once `finish` or `close` has returned.
"""

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

import pyrage

from tenant_backup.api.contract import AGE_HEADER
from tenant_backup.api.reasons import Reason
from tenant_backup.runner.errors import RunError


class _AbandonedError(Exception):
    """The encryptor was closed before its input ended: no more ciphertext is wanted."""


class _Sink:
    """The file-like `write` pyrage calls with ciphertext."""

    def __init__(self, deliver: Callable[[bytes], None]) -> None:
        self._deliver = deliver

    def write(self, data: bytes) -> int:
        self._deliver(bytes(data))
        return len(data)

    def flush(self) -> None:
        """Nothing is buffered here."""


class AgeEncryptor:
    """Encrypts the bytes written to it to `recipients`, in order, into `sink`."""

    def __init__(
        self, recipients: Sequence[pyrage.x25519.Recipient], sink: Callable[[bytes], None]
    ) -> None:
        read_fd, self._write_fd = os.pipe()
        self._sink = sink
        self._failure: BaseException | None = None
        self._abandoned = threading.Event()
        self._closed = False
        self._thread = threading.Thread(
            target=self._encrypt, args=(read_fd, list(recipients)), name="age", daemon=True
        )
        self._thread.start()

    def __enter__(self) -> "AgeEncryptor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _encrypt(self, read_fd: int, recipients: list[pyrage.x25519.Recipient]) -> None:
        # Closing the reader when encryption ends, however, breaks a writer's pipe.
        with os.fdopen(read_fd, "rb", buffering=0) as reader:
            try:
                pyrage.encrypt_io(reader, _Sink(self._deliver), recipients)  # type: ignore[arg-type]
            except BaseException as exc:
                self._failure = self._failure or exc

    def _deliver(self, data: bytes) -> None:
        if self._abandoned.is_set():
            raise _AbandonedError
        try:
            self._sink(data)
        except BaseException as exc:
            self._failure = exc  # pyrage turns it into an EncryptError: keep the original
            raise

    def write(self, data: bytes) -> None:
        """Encrypt `data` next (blocks while the encryption thread catches up)."""
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._write_fd, view) :]
        except BrokenPipeError:
            self._thread.join()
            raise self._error() from None

    def finish(self) -> None:
        """End the input and wait until the last ciphertext went to the sink."""
        self._close_input()
        self._thread.join()
        if self._failure is not None:
            raise self._error()

    def close(self) -> None:
        """Stop without finishing (no-op after `finish`): the sink gets nothing more."""
        self._abandoned.set()
        self._close_input()
        self._thread.join()

    def _close_input(self) -> None:
        if not self._closed:
            self._closed = True
            os.close(self._write_fd)

    def _error(self) -> BaseException:
        failure = self._failure
        if isinstance(failure, RunError):
            return failure
        return RunError(Reason.DUMP_FAILED, f"age encryption failed: {failure}")


def is_encrypted(path: Path) -> bool:
    """Whether the file at `path` is an age file (binary, as we write them)."""
    with path.open("rb") as file:
        return file.read(len(AGE_HEADER)) == AGE_HEADER


def decrypt_file(source: Path, target: Path, identities: Sequence[pyrage.x25519.Identity]) -> None:
    """Decrypt the age file `source` into `target`, streaming; DecryptionFailed if none of
    `identities` is a recipient of it, or its ciphertext does not authenticate."""
    try:
        pyrage.decrypt_file(str(source), str(target), list(identities))
    except pyrage.DecryptError as exc:
        raise RunError(Reason.DECRYPTION_FAILED, f"cannot decrypt the artifact: {exc}") from None
    except OSError as exc:
        if exc.errno is not None:  # the file system's: disk full, no permission
            raise RunError(Reason.RESTORE_FAILED, f"cannot decrypt to {target}: {exc}") from exc
        with contextlib.suppress(OSError):
            target.unlink()
        raise RunError(
            Reason.DECRYPTION_FAILED, f"the artifact's ciphertext does not decrypt: {exc}"
        ) from None
