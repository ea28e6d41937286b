"""A restore's work in the catalog of the database it restores into: what is there, what is
missing, what still refers to another schema, the checks, and the swap.

Markers: the restored schema's comment records the restore id (`{"tenantBackupRestore":
id}`), so a later attempt of the same restore knows it swapped already; a previous schema's
comment records whose it was and until when it is kept.
"""

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow

from tenant_backup.api.contract import KEEP_UNTIL, PREVIOUS_OF, REPLACED_BY
from tenant_backup.api.reasons import Reason
from tenant_backup.api.result import MAX_CHECK_VALUE, MAX_PROBLEM_TEXT, CheckResult
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.restore_options import PREVIOUS_PREFIX, Check
from tenant_backup.runner.sqlrename import (
    BODY_LANGUAGES,
    Need,
    Rename,
    mentions,
    references,
    rename_schema,
    setting_references,
)

log = logging.getLogger(__name__)

Connection = psycopg.Connection[TupleRow]
MARKER_KEY = "tenantBackupRestore"
SWAP_LOCK_TIMEOUT = "30s"
CHECK_STATEMENT_TIMEOUT = "60s"
_NATIVE_LANGUAGES = ("internal", "c")


def marker(restore_id: str) -> str:
    """The comment that marks a schema as restored by `restore_id`."""
    return json.dumps({MARKER_KEY: restore_id})


def _comment(conn: Connection, schema: str) -> dict[str, object]:
    row = conn.execute(
        "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s",
        (schema,),
    ).fetchone()
    try:
        found = json.loads(row[0]) if row and row[0] else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def schema_exists(conn: Connection, schema: str) -> bool:
    """Whether `schema` exists."""
    return (
        conn.execute("SELECT FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
        is not None
    )


def restored_by(conn: Connection, schema: str) -> str | None:
    """The restore id that `schema`'s marker names, if any."""
    found = _comment(conn, schema).get(MARKER_KEY)
    return found if isinstance(found, str) else None


def drop_schema(conn: Connection, schema: str) -> None:
    """Drop `schema` and everything in it, if it exists."""
    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def drop_expired_previous(conn: Connection, target: str, now: datetime) -> list[str]:
    """Drop the previous schemas of `target` kept past their time; their names."""
    rows = conn.execute(
        "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s) ORDER BY 1",
        (PREVIOUS_PREFIX,),
    ).fetchall()
    dropped = []
    for (name,) in rows:
        facts = _comment(conn, name)
        until = facts.get(KEEP_UNTIL)
        if facts.get(PREVIOUS_OF) != target or not isinstance(until, str):
            continue
        if datetime.fromisoformat(until) <= now:
            drop_schema(conn, name)
            dropped.append(name)
            log.info("dropped %s, the previous %s kept until %s", name, target, until)
    return dropped


def table_count(conn: Connection, schema: str) -> int:
    """Tables and partitioned tables in `schema`."""
    row = conn.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relkind IN ('r', 'p')",
        (schema,),
    ).fetchone()
    return int(row[0]) if row else 0


# -- Prerequisites ------------------------------------------------------------------------

_OBJECT_EXISTS = {
    "type": "SELECT FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
    " WHERE n.nspname = %s AND t.typname = %s",
    "function": "SELECT FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
    " WHERE n.nspname = %s AND p.proname = %s",
    "relation": "SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = %s AND c.relname = %s",
}


def missing(conn: Connection, needs: Iterable[Need]) -> list[str]:
    """The needs this database does not meet, described; an object whose name an available
    but uninstalled extension bears is said to be that extension's."""
    absent: list[str] = []
    for need in sorted(needs):
        if need.schema is None:
            found = conn.execute("SELECT FROM pg_roles WHERE rolname = %s", (need.name,))
        else:
            found = conn.execute(_OBJECT_EXISTS[need.kind], (need.schema, need.name))
        if found.fetchone() is None:
            absent.append(str(need) + _extension_hint(conn, need))
    return absent


def _extension_hint(conn: Connection, need: Need) -> str:
    if need.schema is None:
        return ""
    row = conn.execute(
        "SELECT name FROM pg_available_extensions WHERE name = %s AND installed_version IS NULL",
        (need.name,),
    ).fetchone()
    return f" (extension {row[0]}, available but not installed)" if row else ""


# -- Cross-tenant references --------------------------------------------------------------

_ROUTINES = """
SELECT p.proname, pg_get_function_identity_arguments(p.oid), l.lanname, p.prosrc, p.proconfig
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = %s ORDER BY 1, 2
"""
# Objects of the restored schema (and the parts of its tables) that depend on objects of
# another schema: what a rename follows by OID, bound at restore time to the wrong schema.
_DEPENDENCIES = """
WITH mine AS (
    SELECT oid FROM pg_namespace WHERE nspname = %(restored)s
), theirs AS (
    SELECT oid FROM pg_namespace WHERE nspname = %(other)s
), dependents AS (
    SELECT 'pg_class'::regclass AS classid, c.oid AS objid FROM pg_class c
        WHERE c.relnamespace = (SELECT oid FROM mine)
    UNION ALL SELECT 'pg_type'::regclass, t.oid FROM pg_type t
        WHERE t.typnamespace = (SELECT oid FROM mine)
    UNION ALL SELECT 'pg_proc'::regclass, p.oid FROM pg_proc p
        WHERE p.pronamespace = (SELECT oid FROM mine)
    UNION ALL SELECT 'pg_constraint'::regclass, k.oid FROM pg_constraint k
        WHERE k.connamespace = (SELECT oid FROM mine)
    UNION ALL SELECT 'pg_attrdef'::regclass, a.oid FROM pg_attrdef a
        JOIN pg_class c ON c.oid = a.adrelid WHERE c.relnamespace = (SELECT oid FROM mine)
    UNION ALL SELECT 'pg_trigger'::regclass, g.oid FROM pg_trigger g
        JOIN pg_class c ON c.oid = g.tgrelid WHERE c.relnamespace = (SELECT oid FROM mine)
    UNION ALL SELECT 'pg_policy'::regclass, y.oid FROM pg_policy y
        JOIN pg_class c ON c.oid = y.polrelid WHERE c.relnamespace = (SELECT oid FROM mine)
    UNION ALL SELECT 'pg_rewrite'::regclass, r.oid FROM pg_rewrite r
        JOIN pg_class c ON c.oid = r.ev_class WHERE c.relnamespace = (SELECT oid FROM mine)
), referenced AS (
    SELECT 'pg_class'::regclass AS classid, oid AS objid FROM pg_class
        WHERE relnamespace = (SELECT oid FROM theirs)
    UNION ALL SELECT 'pg_type'::regclass, oid FROM pg_type
        WHERE typnamespace = (SELECT oid FROM theirs)
    UNION ALL SELECT 'pg_proc'::regclass, oid FROM pg_proc
        WHERE pronamespace = (SELECT oid FROM theirs)
    UNION ALL SELECT 'pg_namespace'::regclass, oid FROM theirs
)
SELECT DISTINCT pg_describe_object(d.classid, d.objid, d.objsubid),
       pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid)
FROM pg_depend d
JOIN dependents m ON m.classid = d.classid AND m.objid = d.objid
JOIN referenced r ON r.classid = d.refclassid AND r.objid = d.refobjid
ORDER BY 1, 2
"""


def _short(text: str) -> str:
    return text if len(text) <= MAX_PROBLEM_TEXT else text[: MAX_PROBLEM_TEXT - 3] + "..."


def cross_references(
    conn: Connection, restored: str, other: str, shown_as: str, bodies: bool
) -> list[str]:
    """What in schema `restored` (reported as `shown_as`) refers to schema `other`: objects
    bound to its objects and, with `bodies`, routines naming it in their bodies or settings."""
    found = [
        _short(f"{dependent} depends on {referenced}".replace(restored, shown_as))
        for dependent, referenced in conn.execute(
            _DEPENDENCIES, {"restored": restored, "other": other}
        )
    ]
    if not bodies:
        return found
    for name, arguments, language, body, settings in conn.execute(_ROUTINES, (restored,)):
        routine = f"function {shown_as}.{name}({arguments})"
        if language in BODY_LANGUAGES:
            found += [f"{routine}: its body {how} ({other})" for how in references(body, other)]
        elif language not in _NATIVE_LANGUAGES and mentions(body, other):
            found.append(f"{routine}: its {language} body names {other}")
        found += [
            f"{routine}: SET {setting.partition('=')[0]} names {other}"
            for setting in settings or ()
            if setting_references(setting, other)
        ]
    return [_short(text) for text in found]


# -- Checks ---------------------------------------------------------------------------------


def _value(text: bytes | None) -> str | None:
    if text is None:
        return None
    value = text.decode(errors="replace")
    return value if len(value) <= MAX_CHECK_VALUE else value[: MAX_CHECK_VALUE - 3] + "..."


def run_checks(conn: Connection, schema: str, checks: Iterable[Check]) -> list[CheckResult]:
    """Each check's query in its own read-only transaction with `schema` first on the search
    path: passed when its first value, as text, equals the expectation."""
    results = []
    for check in checks:
        try:
            with conn.transaction():
                conn.execute("SET TRANSACTION READ ONLY")
                conn.execute(
                    sql.SQL("SET LOCAL search_path = {}, pg_catalog").format(sql.Identifier(schema))
                )
                conn.execute(f"SET LOCAL statement_timeout = '{CHECK_STATEMENT_TIMEOUT}'")
                cursor = conn.execute(check.sql.encode())
                result = cursor.pgresult
                raw = result.get_value(0, 0) if result is not None and result.ntuples else None
            value = _value(raw)
            results.append(
                CheckResult(
                    name=check.name, passed=value == check.expect, value=value,
                    expected=check.expect,
                )
            )  # fmt: skip
        except psycopg.Error as exc:
            error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            results.append(
                CheckResult(
                    name=check.name, passed=False, expected=check.expect, error=_short(error)
                )
            )
    return results


# -- The swap -------------------------------------------------------------------------------

_RENAMABLE_ROUTINES = """
SELECT p.oid, pg_get_functiondef(p.oid)
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = %s AND p.prokind IN ('f', 'p') AND l.lanname IN ('sql', 'plpgsql')
ORDER BY p.oid
"""


def _rename(conn: Connection, old: str, new: str) -> None:
    conn.execute(
        sql.SQL("ALTER SCHEMA {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new))
    )


def _rename_in_routines(conn: Connection, temporary: str, target: str) -> int:
    """Routines of `target` (just renamed from `temporary`) whose bodies or settings name the
    temporary schema, defined again naming `target`; how many."""
    rename = Rename(temporary, target)
    redefined = 0
    for _oid, definition in conn.execute(_RENAMABLE_ROUTINES, (target,)).fetchall():
        renamed = rename_schema(definition, rename)
        if renamed != definition:
            conn.execute(renamed.encode())
            redefined += 1
    return redefined


def _swap_error(exc: psycopg.Error, target: str) -> RunError:
    if isinstance(exc, psycopg.errors.DuplicateSchema):
        return RunError(Reason.TARGET_EXISTS, f"schema {target} exists already")
    return RunError(Reason.TARGET_NOT_FOUND, f"schema {target} does not exist")


@dataclass(frozen=True)
class Previous:
    """Where Replace keeps the previous schema, and until when (None: dropped at once)."""

    schema: str
    until: datetime | None


def swap_in(
    conn: Connection, temporary: str, target: str, previous: Previous | None, restore_id: str
) -> None:
    """In one transaction: the target renamed to `previous` (Replace), the temporary schema
    renamed to the target, its routines' bodies and settings renamed along."""
    try:
        with conn.transaction():
            conn.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
            if previous is not None:
                _rename(conn, target, previous.schema)
            _rename(conn, temporary, target)
            redefined = _rename_in_routines(conn, temporary, target)
            if previous is not None and previous.until is not None:
                facts = {
                    PREVIOUS_OF: target,
                    KEEP_UNTIL: previous.until.isoformat(),
                    REPLACED_BY: restore_id,
                }
                conn.execute(
                    sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
                        sql.Identifier(previous.schema), sql.Literal(json.dumps(facts))
                    )
                )
    except (psycopg.errors.DuplicateSchema, psycopg.errors.InvalidSchemaName) as exc:
        raise _swap_error(exc, target) from exc
    log.info("swapped %s in (%d routines redefined)", target, redefined)
    if previous is not None and previous.until is None:
        drop_schema(conn, previous.schema)


def now() -> datetime:
    """The current time, UTC, in whole seconds."""
    return datetime.now(UTC).replace(microsecond=0)
