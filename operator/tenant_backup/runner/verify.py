"""Read the written artifact back before declaring success.

custom: `pg_restore --list` must list the schema (`toc`); `full` also has pg_restore read every
data block. plain: the whole stream must decompress, create the schema and end with pg_dump's
trailer (both modes). zstd artifacts are decompressed in a stream into pg_restore's stdin.
"""

import gzip
import logging
import re
import subprocess
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import zstandard

from tenant_backup.api.reasons import Reason
from tenant_backup.api.spec import Compression, DumpFormat
from tenant_backup.runner.errors import DumpError
from tenant_backup.runner.interrupt import Interrupts
from tenant_backup.runner.options import VerifyMode
from tenant_backup.runner.stream import CHUNK_SIZE

log = logging.getLogger(__name__)

PLAIN_TRAILER = b"\n-- PostgreSQL database dump complete\n"
TAIL_BYTES = 4096  # the trailer is followed only by a few short lines
_TOC_SCHEMA_RE = re.compile(r"^\d+; \d+ \d+ SCHEMA - (\S+) ", re.MULTILINE)


def outer_codec(fmt: DumpFormat, compression: Compression) -> Compression:
    """The compression wrapped around the whole file (custom+gzip compresses inside)."""
    if compression is Compression.ZSTD or (
        fmt is DumpFormat.PLAIN and compression is Compression.GZIP
    ):
        return compression
    return Compression.NONE


def read_artifact(path: Path, codec: Compression) -> Iterator[bytes]:
    """The artifact's content, decompressed, in chunks of at most CHUNK_SIZE."""
    with path.open("rb") as raw:
        stream: IO[bytes] | gzip.GzipFile
        if codec is Compression.ZSTD:
            stream = zstandard.ZstdDecompressor().stream_reader(raw)
        elif codec is Compression.GZIP:
            stream = gzip.GzipFile(fileobj=raw, mode="rb")
        else:
            stream = raw
        try:
            while chunk := stream.read(CHUNK_SIZE):
                yield chunk
        except (zstandard.ZstdError, OSError, EOFError, zlib.error) as exc:
            raise DumpError(Reason.VERIFICATION_FAILED, f"cannot decompress: {exc}") from exc


def toc_lists_schema(toc: str, schema: str) -> bool:
    """Whether a `pg_restore --list` output has the SCHEMA entry of `schema`."""
    return schema in _TOC_SCHEMA_RE.findall(toc)


def plain_problems(chunks: Iterable[bytes], schema: str) -> list[str]:
    """What a plain SQL dump lacks: its CREATE SCHEMA statement and its trailer."""
    create = f"\nCREATE SCHEMA {schema};\n".encode()
    found_create = False
    tail = b""
    for chunk in chunks:
        window = tail + chunk
        found_create = found_create or create in window
        tail = window[-max(TAIL_BYTES, len(create)) :]
    problems = [] if found_create else [f"no CREATE SCHEMA {schema}"]
    if PLAIN_TRAILER not in tail:
        problems.append("no '-- PostgreSQL database dump complete' trailer (truncated?)")
    return problems


def _checked(chunks: Iterable[bytes], interrupts: Interrupts) -> Iterator[bytes]:
    for chunk in chunks:
        interrupts.check()
        yield chunk


def _feed(stdin: IO[bytes], chunks: Iterable[bytes]) -> None:
    try:
        for chunk in chunks:
            stdin.write(chunk)
        stdin.close()
    except BrokenPipeError:
        pass  # pg_restore stopped reading (--list needs only the TOC); its status decides


def _pg_restore(
    pg_restore: str, args: list[str], path: Path, codec: Compression, interrupts: Interrupts
) -> str:
    """Run pg_restore on the artifact (via stdin if it must be decompressed); its stdout."""
    argv = [pg_restore, *args] + ([str(path)] if codec is Compression.NONE else [])
    log.info("verifying: %s", " ".join(argv))
    stdin = subprocess.DEVNULL if codec is Compression.NONE else subprocess.PIPE
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        with interrupts.child(argv, stdin=stdin, stdout=out, stderr=err) as proc:
            if proc.stdin is not None:
                _feed(proc.stdin, _checked(read_artifact(path, codec), interrupts))
            returncode = proc.wait()
        interrupts.check()
        if returncode != 0:
            err.seek(0)
            detail = err.read().decode(errors="replace").strip()[-1000:]
            raise DumpError(
                Reason.VERIFICATION_FAILED, f"pg_restore {' '.join(args)} failed: {detail}"
            )
        out.seek(0)
        return out.read().decode(errors="replace")


def verify(
    path: Path,
    fmt: DumpFormat,
    compression: Compression,
    mode: VerifyMode,
    schema: str,
    pg_restore: str,
    interrupts: Interrupts,
) -> None:
    """Raise VerificationFailed unless the artifact at `path` reads back as a dump of `schema`."""
    codec = outer_codec(fmt, compression)
    if fmt is DumpFormat.PLAIN:
        problems = plain_problems(_checked(read_artifact(path, codec), interrupts), schema)
        if problems:
            raise DumpError(Reason.VERIFICATION_FAILED, "; ".join(problems))
        return
    toc = _pg_restore(pg_restore, ["--list"], path, codec, interrupts)
    if not toc_lists_schema(toc, schema):
        raise DumpError(Reason.VERIFICATION_FAILED, f"archive TOC does not list schema {schema}")
    if mode is VerifyMode.FULL:
        _pg_restore(pg_restore, ["--file=/dev/null"], path, codec, interrupts)
