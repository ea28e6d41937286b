"""The bytes of a restore: the artifact spooled to the pod's disk with its sha256 checked on
the way, its SQL script (pg_restore's output for a custom archive, the plain dump itself)
read back in chunks, and psql fed through a `ScriptFilter`.

Spooling first means nothing is written to any database before the artifact proved whole,
and that pg_restore can list the archive's contents before anything is restored; it costs
the artifact's (compressed) size on the pod's disk and one local copy.
"""

import contextlib
import hashlib
import logging
import os
import subprocess
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from tenant_backup.api.contract import ArtifactLocation, Compression, DumpFormat
from tenant_backup.api.reasons import Reason
from tenant_backup.runner.classify import classify_message
from tenant_backup.runner.destinations import open_reader
from tenant_backup.runner.destinations.access import Access
from tenant_backup.runner.dump import StderrTail
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.interrupt import Interrupts
from tenant_backup.runner.script import ScriptFilter
from tenant_backup.runner.verify import outer_codec, read_artifact

log = logging.getLogger(__name__)

APPLICATION_NAME = "tenant-backup-restore"


def spool(
    location: ArtifactLocation,
    access: Access,
    expected_sha256: str,
    path: Path,
    interrupts: Interrupts,
) -> int:
    """Copy the artifact to `path`, checked while it streams: ChecksumMismatch if its bytes
    are not the expected ones (ArtifactNotFound, ArtifactCorrupt or the destination's reason
    for other failures). Its size."""
    size = 0
    digest = hashlib.sha256()
    try:
        reader = open_reader(location, access, expected_sha256, sleep=interrupts.sleep)
        with reader as chunks, path.open("wb") as file:
            for chunk in chunks:
                interrupts.check()
                file.write(chunk)
                digest.update(chunk)
                size += len(chunk)
    except RunError as exc:
        if exc.reason is Reason.ARTIFACT_CORRUPT and size > 0:
            raise RunError(Reason.CHECKSUM_MISMATCH, exc.message) from exc
        raise
    except OSError as exc:
        raise RunError(Reason.RESTORE_FAILED, f"cannot spool the artifact: {exc}") from exc
    if digest.hexdigest() != expected_sha256:  # the destinations check it; so do we
        raise RunError(Reason.CHECKSUM_MISMATCH, f"sha256 {digest.hexdigest()} of {size} bytes")
    return size


def _failed(tool: str, returncode: int, tail: str, default: Reason) -> RunError:
    reason = classify_message(tail) or default
    if "unsupported version" in tail:
        reason = Reason.VERSION_MISMATCH
    return RunError(reason, f"{tool} exited with status {returncode}: {tail}")


def _feed(stdin: IO[bytes], chunks: Iterable[bytes], failure: list[BaseException]) -> None:
    try:
        for chunk in chunks:
            stdin.write(chunk)
    except BrokenPipeError:
        pass  # the reader stopped; its exit status tells why
    except BaseException as exc:
        failure.append(exc)
    finally:
        with contextlib.suppress(OSError):
            stdin.close()


@contextlib.contextmanager
def pg_restore_output(
    pg_restore: str, args: list[str], spooled: Path, codec: Compression, interrupts: Interrupts
) -> Iterator[Iterator[bytes]]:
    """pg_restore's stdout over the spooled archive, in chunks; once they end, RestoreFailed
    (or the reason its message names) if pg_restore failed. Leaving the block early kills it."""
    argv = [pg_restore, *args] + ([str(spooled)] if codec is Compression.NONE else [])
    log.info("running %s", " ".join(argv))
    stdin = subprocess.DEVNULL if codec is Compression.NONE else subprocess.PIPE
    pipes = {"stdin": stdin, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    with interrupts.child(argv, **pipes) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        stderr = StderrTail(proc.stderr, "pg_restore")
        failure: list[BaseException] = []
        feeder = None
        if proc.stdin is not None:
            chunks = read_artifact(spooled, codec)
            feeder = threading.Thread(target=_feed, args=(proc.stdin, chunks, failure))
            feeder.daemon = True
            feeder.start()

        def output() -> Iterator[bytes]:
            assert proc.stdout is not None
            yield from _chunks(proc.stdout, interrupts)
            returncode = proc.wait()
            if feeder is not None:
                feeder.join()
            tail = stderr.text()
            interrupts.check()
            if failure:
                raise failure[0]
            if returncode != 0:
                raise _failed("pg_restore", returncode, tail, Reason.RESTORE_FAILED)

        yield output()


def _chunks(stream: IO[bytes], interrupts: Interrupts) -> Iterator[bytes]:
    fd = stream.fileno()
    while chunk := os.read(fd, 1 << 20):
        interrupts.check()
        yield chunk


@contextlib.contextmanager
def script(
    spooled: Path,
    fmt: DumpFormat,
    compression: Compression,
    pg_restore: str,
    restore_args: list[str],
    interrupts: Interrupts,
) -> Iterator[Iterator[bytes]]:
    """The artifact's SQL script in chunks: pg_restore's for a custom archive (with
    `restore_args`), the decompressed dump for plain."""
    codec = outer_codec(fmt, compression)
    if fmt is DumpFormat.PLAIN:
        yield read_artifact(spooled, codec)
        return
    with pg_restore_output(
        pg_restore, ["--file=-", *restore_args], spooled, codec, interrupts
    ) as chunks:
        yield chunks


def toc_listing(
    spooled: Path, compression: Compression, pg_restore: str, interrupts: Interrupts
) -> str:
    """`pg_restore --list` of a spooled custom archive."""
    codec = outer_codec(DumpFormat.CUSTOM, compression)
    with pg_restore_output(pg_restore, ["--list"], spooled, codec, interrupts) as chunks:
        listing = b"".join(chunks)
    return listing.decode(errors="replace")


def psql_argv(psql: str, dbname: str | None) -> list[str]:
    """psql reading a script on stdin, stopping at the first error; connection from libpq's
    environment (`dbname` instead of PGDATABASE if given)."""
    argv = [psql, "--no-psqlrc", "--quiet", "--no-password", "--set=ON_ERROR_STOP=1"]
    return [*argv, *(["--dbname", dbname] if dbname else []), "--file=-"]


def run_psql(
    argv: list[str],
    prologue: str,
    chunks: Iterable[bytes],
    script_filter: ScriptFilter,
    epilogue: str,
    interrupts: Interrupts,
) -> None:
    """Feed psql `prologue`, the filtered `chunks`, then `epilogue` (which commits): the
    epilogue is written only once every chunk was read without error, so a failed or
    interrupted script leaves psql at the end of its input without COMMIT: rolled back."""
    env = {**os.environ, "PGAPPNAME": APPLICATION_NAME}
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}
    with interrupts.child(argv, env=env, **pipes) as proc:
        assert proc.stdin is not None
        assert proc.stderr is not None
        stderr = StderrTail(proc.stderr, "psql")
        try:
            proc.stdin.write(prologue.encode())
            for chunk in chunks:
                proc.stdin.write(script_filter.feed(chunk))
            proc.stdin.write(script_filter.finish())
            proc.stdin.write(epilogue.encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass  # psql stopped at an error; its status and stderr say which
        returncode = proc.wait()
        tail = stderr.text()
    interrupts.check()
    if returncode != 0:
        raise _failed("psql", returncode, tail, Reason.RESTORE_FAILED)
