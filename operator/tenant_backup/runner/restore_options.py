"""The `restore` subcommand's arguments, and the options they become.

Only non-secret settings are arguments: the connection and credentials come from libpq's
variables (PG*), the destination's credentials from AWS_* and TELEGRAM_BOT_TOKEN, and the
checks' SQL from a mounted JSON file (`[{"name", "sql", "expect"}]`), never argv or env.
"""

import argparse
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from tenant_backup.api.contract import (
    DEFAULT_KEEP_PREVIOUS_SECONDS,
    MAX_RESTORE_CHECKS,
    RESTORE_ID_PATTERN,
    ArtifactLocation,
    ArtifactUrlError,
    Compression,
    DumpFormat,
    Privileges,
    RestoreMode,
    parse_artifact_url,
)
from tenant_backup.api.reasons import Reason
from tenant_backup.api.result import MAX_CHECK_VALUE
from tenant_backup.core import naming
from tenant_backup.runner.destinations.access import Access
from tenant_backup.runner.destinations.base import sha256_hex
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.options import (
    access_from_args,
    add_access_arguments,
    add_choice,
    add_result_file_argument,
)

MAX_CHECK_NAME = 63
MAX_CHECK_SQL = 4096
TEMPORARY_PREFIX = "tbr_new_"
PREVIOUS_PREFIX = "tbr_prev_"
SCRATCH_PREFIX = "tbr_verify_"


@dataclass(frozen=True)
class Check:
    """A query whose first value, as text, must equal `expect`."""

    name: str
    sql: str
    expect: str


@dataclass(frozen=True)
class Names:
    """The deterministic names of one restore id: an interrupted attempt's leftovers are
    found (and dropped) by the next, and a swap already done is recognised."""

    restore_id: str
    temporary: str
    previous: str
    scratch_database: str

    @classmethod
    def of(cls, restore_id: str) -> "Names":
        """The names for `restore_id`."""
        digest = hashlib.sha256(restore_id.encode()).hexdigest()[:16]
        return cls(
            restore_id=restore_id,
            temporary=TEMPORARY_PREFIX + digest,
            previous=PREVIOUS_PREFIX + digest,
            scratch_database=SCRATCH_PREFIX + digest,
        )


@dataclass(frozen=True)
class RestoreOptions:
    """Everything one restore run needs besides the environment."""

    location: ArtifactLocation
    access: Access
    expected_sha256: str
    format: DumpFormat
    compression: Compression
    source_schema: str
    target_schema: str
    mode: RestoreMode
    names: Names
    owner: str | None
    privileges: Privileges
    keep_previous_seconds: int
    checks: tuple[Check, ...]
    verify_database: str | None
    work_dir: Path | None
    pg_bin_dir: Path | None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the `restore` subcommand's arguments on `parser`."""
    parser.add_argument("--artifact-url", required=True, help="pvc://, s3://, telegram://, file://")
    parser.add_argument("--expected-sha256", required=True, help="the artifact's sha256 (hex)")
    add_choice(parser, "--format", DumpFormat.CUSTOM, "the artifact's pg_dump format")
    add_choice(parser, "--compression", Compression.ZSTD, "the artifact's compression")
    parser.add_argument("--source-tenant", required=True, help="the tenant the artifact holds")
    parser.add_argument("--target-tenant", help="the tenant to restore as (default: the source)")
    add_choice(parser, "--mode", RestoreMode.CREATE_NEW, "what to do with the target")
    parser.add_argument(
        "--restore-id",
        required=True,
        help="names the attempt's temporary schema (stable per restore)",
    )
    parser.add_argument("--owner", help="role to own the restored objects (default: as dumped)")
    add_choice(parser, "--privileges", Privileges.KEEP, "keep or drop the archive's grants")
    parser.add_argument(
        "--keep-previous-seconds",
        type=int,
        default=DEFAULT_KEEP_PREVIOUS_SECONDS,
        help="replace: keep the previous schema this long (0: drop it after the swap)",
    )
    parser.add_argument(
        "--checks-file", type=Path, help='JSON list of {"name", "sql", "expect"} to run'
    )
    parser.add_argument(
        "--verify-database",
        help="verify: restore into this existing database instead of a scratch one",
    )
    parser.add_argument(
        "--work-dir", type=Path, help="where the artifact is spooled (default: the temp dir)"
    )
    parser.add_argument("--pg-bin-dir", type=Path, help="directory holding pg_restore and psql")
    add_result_file_argument(parser)
    add_access_arguments(parser)


def _schema(slug: str, flag: str) -> str:
    try:
        return naming.schema_name(slug)
    except naming.InvalidSlugError as exc:
        raise RunError(Reason.VALIDATION_FAILED, f"{flag}: {exc}") from exc


def _text(item: dict[str, object], key: str, limit: int) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise RunError(
            Reason.VALIDATION_FAILED, f"a check's {key} must be a text of 1-{limit} characters"
        )
    return value


def load_checks(path: Path | None) -> tuple[Check, ...]:
    """The checks in the JSON file at `path` (none without one); ValidationFailed if it is not
    a list of at most MAX_RESTORE_CHECKS `{name, sql, expect}` with distinct names."""
    if path is None:
        return ()
    try:
        items = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RunError(Reason.VALIDATION_FAILED, f"cannot read the checks: {exc}") from exc
    if not isinstance(items, list) or len(items) > MAX_RESTORE_CHECKS:
        raise RunError(
            Reason.VALIDATION_FAILED, f"the checks must be a list of at most {MAX_RESTORE_CHECKS}"
        )
    checks: list[Check] = []
    for item in items:
        if not isinstance(item, dict):
            raise RunError(Reason.VALIDATION_FAILED, "each check must be an object")
        checks.append(
            Check(
                name=_text(item, "name", MAX_CHECK_NAME),
                sql=_text(item, "sql", MAX_CHECK_SQL),
                expect=_text(item, "expect", MAX_CHECK_VALUE),
            )
        )
    if len({check.name for check in checks}) != len(checks):
        raise RunError(Reason.VALIDATION_FAILED, "the checks' names must differ")
    return tuple(checks)


def from_args(args: argparse.Namespace) -> RestoreOptions:
    """Check the parsed arguments and fill in defaults."""
    try:
        location = parse_artifact_url(args.artifact_url)
    except ArtifactUrlError as exc:
        raise RunError(Reason.VALIDATION_FAILED, str(exc)) from exc
    if not re.fullmatch(RESTORE_ID_PATTERN, args.restore_id):
        raise RunError(Reason.VALIDATION_FAILED, f"--restore-id must match {RESTORE_ID_PATTERN}")
    if args.keep_previous_seconds < 0:
        raise RunError(Reason.VALIDATION_FAILED, "--keep-previous-seconds must be >= 0")
    if args.verify_database is not None and args.mode is not RestoreMode.VERIFY:
        raise RunError(Reason.VALIDATION_FAILED, "--verify-database needs --mode=verify")
    source = _schema(args.source_tenant, "--source-tenant")
    return RestoreOptions(
        location=location,
        access=access_from_args(args),
        expected_sha256=sha256_hex(args.expected_sha256),
        format=args.format,
        compression=args.compression,
        source_schema=source,
        target_schema=_schema(args.target_tenant, "--target-tenant")
        if args.target_tenant
        else source,
        mode=args.mode,
        names=Names.of(args.restore_id),
        owner=args.owner or None,
        privileges=args.privileges,
        keep_previous_seconds=args.keep_previous_seconds,
        checks=load_checks(args.checks_file),
        verify_database=args.verify_database,
        work_dir=args.work_dir,
        pg_bin_dir=args.pg_bin_dir,
    )
