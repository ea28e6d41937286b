"""`tenant-backup restore`: bring one tenant schema back from a committed artifact.

Steps: Downloading (the artifact spooled to the pod's disk, its sha256 checked on the way:
ChecksumMismatch touches nothing), Verifying (pg_restore lists a custom archive; the script's
definitions tell which roles and other schemas' objects it needs: MissingPrerequisite names
each one missing), Restoring (the script, its schema renamed to a temporary name derived from
the restore id, into psql in one transaction), Checking (nothing restored may refer to the
source schema or be bound to another schema's objects: CrossTenantReference; then the
`{name, sql, expect}` checks, read-only), Swapping (create-new: the temporary schema renamed
to the target; replace: the target renamed to the previous name and the temporary one to the
target; either way with its routines' bodies and search_path settings renamed along, in ONE
transaction; verify: the restored schema, or the scratch database, dropped instead).

The frame (`runner.frame`) runs it: redaction, signals, the failed result, the output.
"""

import argparse
import contextlib
import dataclasses
import logging
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from psycopg import sql

from tenant_backup.api.contract import DumpFormat, Privileges, RestoreMode, RestoreStep
from tenant_backup.api.reasons import Reason
from tenant_backup.api.result import MAX_LISTED_PROBLEMS, CheckResult, RestoreResult, StepTime
from tenant_backup.runner import database, frame, restore_db
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.interrupt import Interrupts
from tenant_backup.runner.options import result_file
from tenant_backup.runner.pgdump import choose_pg_dump, parse_version, sibling_tool
from tenant_backup.runner.restore_options import RestoreOptions, from_args
from tenant_backup.runner.restore_stream import psql_argv, run_psql, script, spool, toc_listing
from tenant_backup.runner.script import ScriptFilter, sets_owner, sets_privileges
from tenant_backup.runner.sqllex import Token, quote_ident, quote_literal
from tenant_backup.runner.sqlrename import Need, Rename, rename_tokens, statement_needs
from tenant_backup.runner.toc import dumped_schemas, parse_toc

log = logging.getLogger(__name__)


@dataclass
class _Facts:
    """What the run learned, reported on failure too."""

    steps: list[tuple[RestoreStep, float]] = field(default_factory=list)
    database: str | None = None
    previous_schema: str | None = None
    previous_kept_until: datetime | None = None
    tables: int | None = None
    rows: int | None = None
    checks: tuple[CheckResult, ...] = ()
    missing: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    server_version: str | None = None
    pg_restore_version: str | None = None

    def enter(self, step: RestoreStep) -> None:
        """The run starts `step`."""
        log.info("step %s", step)
        self.steps.append((step, time.monotonic()))

    def step_times(self) -> tuple[StepTime, ...]:
        """Each step entered and its duration (the last one's until now)."""
        ends = [started for _, started in self.steps[1:]] + [time.monotonic()]
        return tuple(
            StepTime(step=step, seconds=round(end - started, 3))
            for (step, started), end in zip(self.steps, ends, strict=True)
        )


def _version(tool: str) -> str:
    try:
        completed = subprocess.run(
            [tool, "--version"], stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=30, check=True,
        )  # fmt: skip
        return parse_version(completed.stdout)[1]
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise RunError(Reason.RESTORE_FAILED, f"cannot run {tool} --version: {exc}") from exc


class _Statements:
    """What happens to each statement of the archive's script: owner and privilege
    statements dropped as asked (plain dumps; pg_restore drops them from custom archives),
    the source schema renamed; the needs of those kept recorded."""

    def __init__(self, opts: RestoreOptions, rename: Rename) -> None:
        plain = opts.format is DumpFormat.PLAIN
        self._drop_owner = plain and opts.owner is not None
        self._drop_privileges = plain and opts.privileges is Privileges.DROP
        self._rename = rename
        self.needs: set[Need] = set()
        self.creates_schema = False

    def _kept(self, found: list[Token]) -> bool:
        return not (
            (self._drop_owner and sets_owner(found))
            or (self._drop_privileges and sets_privileges(found))
        )

    def study(self, found: list[Token]) -> list[Token]:
        """Record a statement's needs (the Verifying pass, whose output is not used)."""
        if self._kept(found):
            self.needs |= statement_needs(found, self._rename.source)
            words = [token for token in found if token.significant]
            self.creates_schema |= (
                len(words) >= 3
                and words[0].keyword("create")
                and words[1].keyword("schema")
                and words[2].value == self._rename.source
            )
        return found

    def restore(self, found: list[Token]) -> list[Token] | None:
        """The statement renamed, or None to drop it (the Restoring pass)."""
        return rename_tokens(found, self._rename) if self._kept(found) else None


def _pg_restore_args(opts: RestoreOptions) -> list[str]:
    return (["--no-owner"] if opts.owner else []) + (
        ["--no-privileges"] if opts.privileges is Privileges.DROP else []
    )


def _listed(problems: list[str]) -> tuple[str, ...]:
    return tuple(problems[:MAX_LISTED_PROBLEMS])


def _problems(kind: str, problems: list[str]) -> str:
    more = len(problems) - MAX_LISTED_PROBLEMS
    return (
        f"{kind}: "
        + "; ".join(problems[:MAX_LISTED_PROBLEMS])
        + (f"; and {more} more" if more > 0 else "")
    )


class Restore:
    """`tenant-backup restore`, as the frame runs it."""

    failure_reason = Reason.RESTORE_FAILED

    def __init__(self, args: argparse.Namespace) -> None:
        self._args = args
        self._opts: RestoreOptions | None = None
        self._facts = _Facts()

    def run(self, context: frame.Context) -> RestoreResult:
        """Restore, check and swap in one tenant schema."""
        self._opts = opts = from_args(self._args)
        facts, interrupts = self._facts, context.interrupts
        facts.enter(RestoreStep.DOWNLOADING)
        with database.session("restore") as conn:
            server_major = conn.info.server_version // 10000
            facts.server_version = (conn.info.parameter_status("server_version") or "?").split()[0]
            facts.database = conn.info.dbname
            done = self._preflight(conn)
            if done is not None:
                return done
            pg_restore = sibling_tool(choose_pg_dump(server_major, opts.pg_bin_dir), "pg_restore")
            psql = sibling_tool(pg_restore, "psql")
            facts.pg_restore_version = _version(pg_restore)
            with _spooled(opts) as spooled:
                spool(opts.location, opts.access, opts.expected_sha256, spooled, interrupts)
                interrupts.check()
                with self._restore_database(conn) as (dbname, into):
                    self._restore(into, dbname, spooled, pg_restore, psql, interrupts)
                    self._check_and_swap(conn, into)
        return self._succeeded()

    def _preflight(self, conn: restore_db.Connection) -> RestoreResult | None:
        """The result if this restore swapped already; RunError if the target is not as
        the mode needs it."""
        opts = self._require()
        target = opts.target_schema
        if opts.mode is RestoreMode.VERIFY:
            return None
        if restore_db.restored_by(conn, target) == opts.names.restore_id:
            log.info("%s was swapped in by this restore already", target)
            self._facts.tables = restore_db.table_count(conn, target)
            if restore_db.schema_exists(conn, opts.names.previous):
                self._facts.previous_schema = opts.names.previous
            return self._succeeded(already=True)
        exists = restore_db.schema_exists(conn, target)
        if opts.mode is RestoreMode.CREATE_NEW and exists:
            raise RunError(Reason.TARGET_EXISTS, f"schema {target} exists already")
        if opts.mode is RestoreMode.REPLACE and not exists:
            raise RunError(Reason.TARGET_NOT_FOUND, f"schema {target} does not exist")
        if opts.mode is RestoreMode.REPLACE and restore_db.schema_exists(conn, opts.names.previous):
            raise RunError(
                Reason.TARGET_EXISTS, f"schema {opts.names.previous} (the previous) exists already"
            )
        restore_db.drop_schema(conn, opts.names.temporary)  # an interrupted attempt's
        return None

    @contextlib.contextmanager
    def _restore_database(
        self, conn: restore_db.Connection
    ) -> Iterator[tuple[str | None, restore_db.Connection]]:
        """The database to restore into (None: the target's) and a session to it: for verify,
        the given one or a scratch one created here and dropped afterwards."""
        opts = self._require()
        if opts.mode is not RestoreMode.VERIFY:
            yield None, conn
            return
        scratch = opts.verify_database is None
        dbname = opts.verify_database or opts.names.scratch_database
        self._facts.database = dbname
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        if scratch:
            conn.execute(drop)  # an interrupted attempt's
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
        try:
            with database.session("verify", dbname) as into:
                restore_db.drop_schema(into, opts.names.temporary)
                try:
                    yield dbname, into
                finally:
                    restore_db.drop_schema(into, opts.names.temporary)
        finally:
            if scratch:
                conn.execute(drop)

    def _require(self) -> RestoreOptions:
        assert self._opts is not None
        return self._opts

    def _restore(
        self,
        into: restore_db.Connection,
        dbname: str | None,
        spooled: Path,
        pg_restore: str,
        psql: str,
        interrupts: Interrupts,
    ) -> None:
        """Verifying and Restoring: into the temporary schema, committed only if whole."""
        opts, facts = self._require(), self._facts
        facts.enter(RestoreStep.VERIFYING)
        temporary = opts.names.temporary
        statements = _Statements(opts, Rename(opts.source_schema, temporary))
        if opts.format is DumpFormat.CUSTOM:
            schemas = dumped_schemas(
                parse_toc(toc_listing(spooled, opts.compression, pg_restore, interrupts))
            )
            if schemas != [opts.source_schema]:
                raise RunError(
                    Reason.VALIDATION_FAILED,
                    f"the archive holds schemas {schemas}, not only {opts.source_schema}",
                )
        args = _pg_restore_args(opts)
        with script(
            spooled, opts.format, opts.compression, pg_restore, ["--schema-only", *args], interrupts
        ) as chunks:
            studied = ScriptFilter(statements.study)
            for chunk in chunks:
                studied.feed(chunk)
            studied.finish()
        if not statements.creates_schema:
            raise RunError(Reason.VALIDATION_FAILED, f"the archive creates no {opts.source_schema}")
        facts.missing = restore_db.missing(into, statements.needs)
        if facts.missing:
            raise RunError(
                Reason.MISSING_PREREQUISITE, _problems("missing in the database", facts.missing)
            )
        facts.enter(RestoreStep.RESTORING)
        prologue = "BEGIN;\n" + (f"SET ROLE {quote_ident(opts.owner)};\n" if opts.owner else "")
        comment = quote_literal(restore_db.marker(opts.names.restore_id))
        epilogue = f"\nCOMMENT ON SCHEMA {quote_ident(temporary)} IS {comment};\nCOMMIT;\n"
        restoring = ScriptFilter(statements.restore)
        with script(spooled, opts.format, opts.compression, pg_restore, args, interrupts) as chunks:
            run_psql(psql_argv(psql, dbname), prologue, chunks, restoring, epilogue, interrupts)
        facts.rows = restoring.rows
        facts.tables = restore_db.table_count(into, temporary)
        log.info("restored %d tables, %d rows into %s", facts.tables, facts.rows, temporary)

    def _check_and_swap(self, conn: restore_db.Connection, into: restore_db.Connection) -> None:
        """Checking and Swapping; the temporary schema dropped if either fails."""
        opts, facts = self._require(), self._facts
        temporary, source, target = opts.names.temporary, opts.source_schema, opts.target_schema
        try:
            facts.enter(RestoreStep.CHECKING)
            facts.references = restore_db.cross_references(
                into, temporary, source, target, bodies=source != target
            )
            if target != source:
                facts.references += restore_db.cross_references(
                    into, temporary, target, target, bodies=False
                )
            if facts.references:
                raise RunError(
                    Reason.CROSS_TENANT_REFERENCE,
                    _problems(f"{target} would refer to another schema", facts.references),
                )
            facts.checks = tuple(restore_db.run_checks(into, temporary, opts.checks))
            failed = [check.name for check in facts.checks if not check.passed]
            if failed:
                raise RunError(Reason.CHECKS_FAILED, f"checks failed: {', '.join(failed)}")
            if opts.mode is not RestoreMode.VERIFY:
                facts.enter(RestoreStep.SWAPPING)
                self._swap(conn)
        except BaseException:
            if opts.mode is not RestoreMode.VERIFY:
                with contextlib.suppress(RunError), database.session("cleanup") as cleanup:
                    restore_db.drop_schema(cleanup, temporary)
            raise

    def _swap(self, conn: restore_db.Connection) -> None:
        opts, facts = self._require(), self._facts
        previous = None
        if opts.mode is RestoreMode.REPLACE:
            keep = opts.keep_previous_seconds
            until = restore_db.now() + timedelta(seconds=keep) if keep else None
            previous = restore_db.Previous(opts.names.previous, until)
            facts.previous_schema = opts.names.previous if keep else None
            facts.previous_kept_until = until
        restore_db.swap_in(
            conn, opts.names.temporary, opts.target_schema, previous, opts.names.restore_id
        )
        restore_db.drop_expired_previous(conn, opts.target_schema, restore_db.now())

    def _succeeded(self, already: bool = False) -> RestoreResult:
        opts, facts = self._require(), self._facts
        what = "verified" if opts.mode is RestoreMode.VERIFY else "restored"
        rows = "" if facts.rows is None else f", {facts.rows} rows"
        return dataclasses.replace(
            self.failed(),
            ok=True,
            reason=Reason.SUCCEEDED,
            message=f"{what} {opts.source_schema} as {opts.target_schema} ({opts.mode}): "
            f"{facts.tables} tables{rows}" + (", swapped in already" if already else ""),
            already_restored=already,
        )

    def failed(self) -> RestoreResult:
        """What the run learned: the step it reached, the lists of what stopped it."""
        opts, facts = self._opts, self._facts
        return RestoreResult(
            ok=False,
            mode=opts.mode if opts else None,
            step=facts.steps[-1][0] if facts.steps else None,
            steps=facts.step_times(),
            source_schema=opts.source_schema if opts else None,
            target_schema=opts.target_schema if opts else None,
            database=facts.database,
            previous_schema=facts.previous_schema,
            previous_kept_until=facts.previous_kept_until,
            tables=facts.tables,
            rows=facts.rows,
            checks=facts.checks,
            missing=_listed(facts.missing),
            missing_total=len(facts.missing),
            references=_listed(facts.references),
            references_total=len(facts.references),
            server_version=facts.server_version,
            pg_restore_version=facts.pg_restore_version,
        )


@contextlib.contextmanager
def _spooled(opts: RestoreOptions) -> Iterator[Path]:
    """A path in the work directory for the spooled artifact, deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix="restore-", dir=opts.work_dir) as directory:
        yield Path(directory) / "artifact"


def run(args: argparse.Namespace) -> int:
    """Entry point of `tenant-backup restore`: 0 on success, non-zero otherwise."""
    return frame.run(Restore(args), result_file(args))
