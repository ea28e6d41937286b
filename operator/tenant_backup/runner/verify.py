"""Read the artifact back before declaring success.

custom: `pg_restore --list` must list the schema (`toc`); `full` also has pg_restore read every
data block. plain: the whole stream must decompress, create the schema and end with pg_dump's
trailer (`scan`, whichever mode was asked for). zstd artifacts are decompressed in a stream
into pg_restore's stdin.

Two ways, the same checks: `verify` reads a finished local file back (the local destination);
`StreamVerifier` checks the artifact bytes as they stream to a destination that keeps no
local copy (S3), so an upload is completed only after its bytes passed. In `toc` mode the
stream verifier stops decoding once pg_restore has read the TOC; the rest of the stream is
then vouched for by pg_dump's exit status and the SHA-256 of what was sent.
"""

import contextlib
import gzip
import logging
import re
import subprocess
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, cast

import zstandard

from tenant_backup.api.contract import Compression, DumpFormat, ReadBack, Verification
from tenant_backup.api.reasons import Reason
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.interrupt import Interrupts
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


def read_back(fmt: DumpFormat, mode: Verification) -> ReadBack:
    """How an artifact of `fmt` is read back when `mode` is asked for: pg_restore lists or
    reads a custom archive; a plain dump is scanned whole, whatever the mode."""
    if fmt is DumpFormat.PLAIN:
        return ReadBack.SCAN
    return ReadBack.FULL if mode is Verification.FULL else ReadBack.TOC


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
            raise RunError(Reason.VERIFICATION_FAILED, f"cannot decompress: {exc}") from exc


def toc_lists_schema(toc: str, schema: str) -> bool:
    """Whether a `pg_restore --list` output has the SCHEMA entry of `schema`."""
    return schema in _TOC_SCHEMA_RE.findall(toc)


class PlainScan:
    """Incremental check of a plain SQL dump: its CREATE SCHEMA statement and its trailer."""

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self._create = f"\nCREATE SCHEMA {schema};\n".encode()
        self._found_create = False
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        """Scan the next piece of the dump."""
        window = self._tail + chunk
        self._found_create = self._found_create or self._create in window
        self._tail = window[-max(TAIL_BYTES, len(self._create)) :]

    def problems(self) -> list[str]:
        """What the dump lacks, once all of it was fed."""
        problems = [] if self._found_create else [f"no CREATE SCHEMA {self.schema}"]
        if PLAIN_TRAILER not in self._tail:
            problems.append("no '-- PostgreSQL database dump complete' trailer (truncated?)")
        return problems


def plain_problems(chunks: Iterable[bytes], schema: str) -> list[str]:
    """What a plain SQL dump lacks: its CREATE SCHEMA statement and its trailer."""
    scan = PlainScan(schema)
    for chunk in chunks:
        scan.feed(chunk)
    return scan.problems()


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
            raise RunError(
                Reason.VERIFICATION_FAILED, f"pg_restore {' '.join(args)} failed: {detail}"
            )
        out.seek(0)
        return out.read().decode(errors="replace")


def verify(
    path: Path,
    fmt: DumpFormat,
    compression: Compression,
    mode: Verification,
    schema: str,
    pg_restore: str,
    interrupts: Interrupts,
) -> None:
    """Raise VerificationFailed unless the artifact at `path` reads back as a dump of `schema`."""
    codec = outer_codec(fmt, compression)
    if fmt is DumpFormat.PLAIN:
        problems = plain_problems(_checked(read_artifact(path, codec), interrupts), schema)
        if problems:
            raise RunError(Reason.VERIFICATION_FAILED, "; ".join(problems))
        return
    toc = _pg_restore(pg_restore, ["--list"], path, codec, interrupts)
    if not toc_lists_schema(toc, schema):
        raise RunError(Reason.VERIFICATION_FAILED, f"archive TOC does not list schema {schema}")
    if mode is Verification.FULL:
        _pg_restore(pg_restore, ["--file=/dev/null"], path, codec, interrupts)


class _Forward:
    """A file-like `write` that hands each piece to a callback."""

    def __init__(self, sink: Callable[[bytes], None]) -> None:
        self._sink = sink

    def write(self, data: bytes) -> int:
        self._sink(bytes(data))
        return len(data)


class _Decoder:
    """Undoes the artifact's outer compression in pieces of at most CHUNK_SIZE."""

    def __init__(self, codec: Compression, sink: Callable[[bytes], None]) -> None:
        self._codec = codec
        self._sink = sink
        self._zstd = (
            zstandard.ZstdDecompressor().stream_writer(
                cast(IO[bytes], _Forward(sink)),
                write_size=CHUNK_SIZE,
                write_return_read=True,
                closefd=False,
            )
            if codec is Compression.ZSTD
            else None
        )
        self._gzip = zlib.decompressobj(wbits=31) if codec is Compression.GZIP else None

    def write(self, data: bytes) -> None:
        try:
            if self._zstd is not None:
                self._zstd.write(data)
            elif self._gzip is not None:
                while data:
                    self._sink(self._gzip.decompress(data, CHUNK_SIZE))
                    data = self._gzip.unconsumed_tail
            else:
                self._sink(data)
        except (zstandard.ZstdError, zlib.error) as exc:
            raise RunError(Reason.VERIFICATION_FAILED, f"cannot decompress: {exc}") from exc

    def finish(self) -> None:
        """Raise VerificationFailed if the compressed stream is incomplete."""
        if self._zstd is not None:
            self._zstd.flush()  # type: ignore[no-untyped-call]
        if self._gzip is not None:
            self._sink(self._gzip.flush())
            if not self._gzip.eof:
                raise RunError(Reason.VERIFICATION_FAILED, "the gzip stream is truncated")


class _RestoreFeed:
    """pg_restore reading the artifact's content on stdin while it streams."""

    def __init__(
        self, pg_restore: str, args: list[str], stack: contextlib.ExitStack, interrupts: Interrupts
    ) -> None:
        self.args = args
        self._out = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 (the stack closes it)
        self._err = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115
        argv = [pg_restore, *args]
        log.info("verifying the stream: %s", " ".join(argv))
        self._proc = stack.enter_context(
            interrupts.child(argv, stdin=subprocess.PIPE, stdout=self._out, stderr=self._err)
        )
        self.reading = True

    def feed(self, data: bytes) -> None:
        if not self.reading:
            return
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(data)
        except BrokenPipeError:
            self.reading = False  # pg_restore stopped reading (--list needs only the TOC)

    def output(self) -> str:
        """End the input, wait; pg_restore's stdout, or VerificationFailed."""
        assert self._proc.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self._proc.stdin.close()
        self.reading = False
        if self._proc.wait() != 0:
            self._err.seek(0)
            detail = self._err.read().decode(errors="replace").strip()[-1000:]
            raise RunError(
                Reason.VERIFICATION_FAILED, f"pg_restore {' '.join(self.args)} failed: {detail}"
            )
        self._out.seek(0)
        return self._out.read().decode(errors="replace")


class StreamVerifier:
    """The checks of `verify`, run on the artifact bytes as they stream past (`feed`), with
    the verdict at `finish`. Use as a context manager: leaving it stops pg_restore."""

    def __init__(
        self,
        fmt: DumpFormat,
        compression: Compression,
        mode: Verification,
        schema: str,
        pg_restore: str,
        interrupts: Interrupts,
    ) -> None:
        self._schema = schema
        self._stack = contextlib.ExitStack()
        self._plain = PlainScan(schema) if fmt is DumpFormat.PLAIN else None
        self._restores: list[_RestoreFeed] = []
        if self._plain is not None:
            log.info("verifying the stream: a plain SQL scan for its schema and trailer")
        else:
            wanted = [["--list"]] + ([["--file=/dev/null"]] if mode is Verification.FULL else [])
            self._restores = [
                _RestoreFeed(pg_restore, args, self._stack, interrupts) for args in wanted
            ]
        self._decoder = _Decoder(outer_codec(fmt, compression), self._content)

    def __enter__(self) -> "StreamVerifier":
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _content(self, data: bytes) -> None:
        if self._plain is not None:
            self._plain.feed(data)
        for restore in self._restores:
            restore.feed(data)

    def feed(self, data: bytes) -> None:
        """Check the next artifact bytes (no decoding once no check reads any more)."""
        if self._plain is not None or any(restore.reading for restore in self._restores):
            self._decoder.write(data)

    def finish(self) -> None:
        """Raise VerificationFailed unless the whole stream was a dump of the schema."""
        if self._plain is not None:
            self._decoder.finish()
            problems = self._plain.problems()
            if problems:
                raise RunError(Reason.VERIFICATION_FAILED, "; ".join(problems))
            return
        if len(self._restores) > 1:  # full: every byte was decoded and read
            self._decoder.finish()
        toc, *_ = [restore.output() for restore in self._restores]
        if not toc_lists_schema(toc, self._schema):
            raise RunError(
                Reason.VERIFICATION_FAILED, f"archive TOC does not list schema {self._schema}"
            )
