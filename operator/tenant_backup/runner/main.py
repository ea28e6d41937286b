"""The `dump` subcommand's body: validate, pre-flight, dump, verify, commit; its result.

The frame (`runner.frame`) runs it: redaction, signals, the failed result, the output.
"""

import argparse
import contextlib
import logging
import subprocess
import time
from dataclasses import dataclass

from tenant_backup.api.contract import Compression, Encryption
from tenant_backup.api.reasons import Reason
from tenant_backup.api.result import DumpResult, ResultArtifact, ResultEncryption
from tenant_backup.core import naming
from tenant_backup.runner import database, frame
from tenant_backup.runner.age_keys import Recipients, parse_recipients, read_recipients_file
from tenant_backup.runner.destinations import open_upload
from tenant_backup.runner.destinations.base import (
    ArtifactFacts,
    DownloadLink,
    Upload,
    aborted_unless_committed,
)
from tenant_backup.runner.dump import run_pg_dump
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.interrupt import Interrupts
from tenant_backup.runner.options import DumpOptions, S3Target, from_args, result_file
from tenant_backup.runner.pgdump import choose_pg_dump, parse_version, pg_dump_argv, sibling_tool
from tenant_backup.runner.stream import ArtifactStream
from tenant_backup.runner.verify import StreamVerifier, read_back, verify

log = logging.getLogger(__name__)

MAX_LISTED_TABLES = 10


@dataclass
class _Facts:
    """Versions learned along the way, reported on failure too."""

    server_version: str | None = None
    pg_dump_version: str | None = None


def _pg_dump_version(pg_dump: str) -> tuple[int, str]:
    try:
        completed = subprocess.run(
            [pg_dump, "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return parse_version(completed.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise RunError(Reason.DUMP_FAILED, f"cannot run {pg_dump} --version: {exc}") from exc


def _check_dumpable(facts: database.ServerFacts, schema: str, pg_dump_major: int) -> None:
    if facts.major > pg_dump_major:
        raise RunError(
            Reason.VERSION_MISMATCH,
            f"server is PostgreSQL {facts.version} but pg_dump is {pg_dump_major}: "
            f"a pg_dump of major {facts.major} or newer is needed",
        )
    if not facts.schema_exists:
        raise RunError(Reason.TENANT_NOT_FOUND, f"schema {schema} does not exist")
    if not facts.schema_usable:
        raise RunError(Reason.PERMISSION_DENIED, f"no USAGE privilege on schema {schema}")
    if facts.unreadable:
        names = ", ".join(facts.unreadable[:MAX_LISTED_TABLES])
        more = len(facts.unreadable) - MAX_LISTED_TABLES
        raise RunError(
            Reason.PERMISSION_DENIED,
            f"no SELECT privilege in {schema} on {names}"
            + (f" and {more} more" if more > 0 else ""),
        )


def _recipients(opts: DumpOptions) -> Recipients | None:
    """The age recipients to encrypt to, checked; None: no encryption."""
    if not opts.encrypted:
        return None
    listed = list(opts.age_recipients)
    if opts.age_recipients_file is not None:
        listed += read_recipients_file(opts.age_recipients_file)
    recipients = parse_recipients(listed)
    log.info("encrypting with age to %s", ", ".join(recipients.fingerprints))
    return recipients


def _artifact_stream(
    upload: Upload,
    opts: DumpOptions,
    recipients: Recipients | None,
    schema: str,
    pg_restore: str,
    interrupts: Interrupts,
    stack: contextlib.ExitStack,
) -> tuple[ArtifactStream, StreamVerifier | None]:
    """The stream into `upload`, tapped by a verifier unless the upload keeps a local copy
    of the plaintext (an encrypted one is verified on its way to the encryptor)."""
    zstd_level = opts.compression_level if opts.compression is Compression.ZSTD else None
    keys = recipients.keys if recipients else ()
    if upload.local_copy() is not None and not keys:
        return ArtifactStream(upload, zstd_level), None
    verifier = stack.enter_context(
        StreamVerifier(opts.format, opts.compression, opts.verify, schema, pg_restore, interrupts)
    )
    stream = ArtifactStream(upload, zstd_level, verifier.feed, keys)
    stack.callback(stream.close)
    return stream, verifier


def _read_back(
    upload: Upload,
    verifier: StreamVerifier | None,
    opts: DumpOptions,
    schema: str,
    pg_restore: str,
    interrupts: Interrupts,
) -> None:
    """The stream verifier's verdict, or the upload's local copy read back."""
    started = time.monotonic()
    local = upload.local_copy()
    if verifier is not None:
        verifier.finish()
    elif local is not None:
        verify(local, opts.format, opts.compression, opts.verify, schema, pg_restore, interrupts)
    how = read_back(opts.format, opts.verify)
    log.info("verified (%s) in %.3f s", how, time.monotonic() - started)


def _preflight(
    opts: DumpOptions, facts: _Facts, interrupts: Interrupts
) -> tuple[str, database.ServerFacts, str, str]:
    """The schema, what the server says of it, the pg_dump to dump it with and that pg_dump's
    version; RunError unless it can be dumped."""
    try:
        schema = naming.schema_name(opts.tenant)
    except naming.InvalidSlugError as exc:
        raise RunError(Reason.VALIDATION_FAILED, str(exc)) from exc
    log.info("pre-flight for schema %s", schema)
    started = time.monotonic()
    server = database.inspect(schema)
    facts.server_version = server.version
    interrupts.check()
    pg_dump = choose_pg_dump(server.major, opts.pg_bin_dir, opts.pg_root)
    pg_dump_major, pg_dump_version = _pg_dump_version(pg_dump)
    facts.pg_dump_version = pg_dump_version
    seconds = time.monotonic() - started
    log.info(
        "server %s, %s %s (pre-flight %.3f s)", server.version, pg_dump, pg_dump_version, seconds
    )
    _check_dumpable(server, schema, pg_dump_major)
    return schema, server, pg_dump, pg_dump_version


def dump(opts: DumpOptions, facts: _Facts, context: frame.Context) -> ResultArtifact:
    """One dump run; raises RunError on any failure, leaving nothing at the destination."""
    interrupts = context.interrupts
    schema, server, pg_dump, pg_dump_version = _preflight(opts, facts, interrupts)
    argv = pg_dump_argv(
        pg_dump,
        schema,
        opts.format,
        opts.compression,
        opts.compression_level,
        opts.lock_wait_timeout_seconds,
    )
    pg_restore = sibling_tool(pg_dump, "pg_restore")
    recipients = _recipients(opts)
    encryption = (
        ResultEncryption(scheme=Encryption.AGE, recipients=recipients.fingerprints)
        if recipients
        else None
    )
    about = ArtifactFacts(
        tenant=opts.tenant,
        format=opts.format,
        compression=opts.compression,
        server_version=server.version,
        pg_dump_version=pg_dump_version,
        encryption=encryption.scheme if encryption else None,
        recipients=encryption.recipients if encryption else (),
    )
    upload = open_upload(opts.target, opts.artifact_url, about, server.schema_bytes, interrupts)
    with aborted_unless_committed(upload), contextlib.ExitStack() as stack:
        stream, verifier = _artifact_stream(
            upload, opts, recipients, schema, pg_restore, interrupts, stack
        )
        run_pg_dump(argv, stream, interrupts)
        if stream.input_size == 0:
            raise RunError(Reason.EMPTY_DUMP, "pg_dump succeeded but wrote nothing")
        stream.finish()
        _read_back(upload, verifier, opts, schema, pg_restore, interrupts)
        interrupts.check()  # the last point a signal fails the run; after it, we finish
        digest = stream.digest
        upload.commit(digest)
    log.info("wrote %s: %d bytes, sha256 %s", upload.url, digest.size_bytes, digest.sha256)
    link = _download_link(upload, opts, context.secrets)
    throttled = upload.throttled()
    return ResultArtifact(
        url=upload.url,
        size_bytes=digest.size_bytes,
        sha256=digest.sha256,
        format=opts.format,
        compression=opts.compression,
        verification=read_back(opts.format, opts.verify),
        download_url=link.url if link else None,
        download_url_expires_at=link.expires_at if link else None,
        paced_seconds=round(throttled.paced_seconds) if throttled else None,
        rate_limited_seconds=round(throttled.rate_limited_seconds) if throttled else None,
        encryption=encryption,
    )


def _download_link(
    upload: Upload, opts: DumpOptions, secrets: frame.Secrets
) -> DownloadLink | None:
    """The opt-in presigned link, its URL added to what the logs redact."""
    seconds = opts.target.download_link_seconds if isinstance(opts.target, S3Target) else None
    if seconds is None:
        return None
    link = upload.download_link(seconds)
    if link is not None:
        secrets.add(link.url)
        log.info("presigned a download link valid until %s", link.expires_at.isoformat())
    return link


class Dump:
    """`tenant-backup dump`, as the frame runs it."""

    failure_reason = Reason.DUMP_FAILED

    def __init__(self, args: argparse.Namespace) -> None:
        self._args = args
        self._facts = _Facts()

    def run(self, context: frame.Context) -> DumpResult:
        """Dump, verify and commit one artifact."""
        opts = from_args(self._args)
        artifact = dump(opts, self._facts, context)
        return DumpResult(
            ok=True,
            reason=Reason.SUCCEEDED,
            message=f"dumped tenant {opts.tenant}",
            artifact=artifact,
            server_version=self._facts.server_version,
            pg_dump_version=self._facts.pg_dump_version,
        )

    def failed(self) -> DumpResult:
        """The versions learned before the failure."""
        return DumpResult(
            ok=False,
            server_version=self._facts.server_version,
            pg_dump_version=self._facts.pg_dump_version,
        )


def run(args: argparse.Namespace) -> int:
    """Entry point of `tenant-backup dump`: 0 on success, non-zero otherwise."""
    return frame.run(Dump(args), result_file(args))
