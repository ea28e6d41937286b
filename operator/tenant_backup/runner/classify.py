"""Map failures (SQLSTATEs, libpq and pg_dump messages, exit statuses) to a Reason."""

import re
import signal
from collections.abc import Iterable

from tenant_backup.api.contract import TLS_FAILURES
from tenant_backup.api.reasons import Reason

# Regexes checked in order: the first match wins. libpq wraps server errors in "connection to
# server ... failed: FATAL: ...", so the specific causes come before the generic connection
# ones. pg_dump enforces --lock-wait-timeout as a statement timeout on its LOCK TABLE queries.
_MESSAGES: tuple[tuple[str, Reason], ...] = (
    *((re.escape(words), Reason.TLS_FAILED) for words in TLS_FAILURES),
    ("no password supplied", Reason.AUTH_FAILED),
    ("no pg_hba.conf entry", Reason.AUTH_FAILED),
    ("authentication failed", Reason.AUTH_FAILED),  # password, ident, peer, cert...
    ("requires a valid client certificate", Reason.AUTH_FAILED),
    ("server version mismatch", Reason.VERSION_MISMATCH),
    ("could not obtain lock", Reason.LOCK_TIMEOUT),
    ("lock timeout", Reason.LOCK_TIMEOUT),
    (r"statement timeout[\s\S]*lock table", Reason.LOCK_TIMEOUT),
    ("permission denied", Reason.PERMISSION_DENIED),
    ("row-level security", Reason.PERMISSION_DENIED),
    ("no matching schemas were found", Reason.TENANT_NOT_FOUND),
    ("connection refused", Reason.DATABASE_UNAVAILABLE),
    ("timeout expired", Reason.DATABASE_UNAVAILABLE),
    ("could not connect", Reason.DATABASE_UNAVAILABLE),
    ("could not translate host name", Reason.DATABASE_UNAVAILABLE),
    ("server closed the connection", Reason.DATABASE_UNAVAILABLE),
    ("the database system is", Reason.DATABASE_UNAVAILABLE),
    ("terminating connection", Reason.DATABASE_UNAVAILABLE),
    ("too many clients", Reason.DATABASE_UNAVAILABLE),
    ("no connection to the server", Reason.DATABASE_UNAVAILABLE),
)

_SQLSTATES: dict[str, Reason] = {
    "42501": Reason.PERMISSION_DENIED,  # insufficient_privilege
    "55P03": Reason.LOCK_TIMEOUT,  # lock_not_available
}
_SQLSTATE_CLASSES: dict[str, Reason] = {
    "08": Reason.DATABASE_UNAVAILABLE,  # connection exception
    "28": Reason.AUTH_FAILED,  # invalid authorization specification
    "53": Reason.DATABASE_UNAVAILABLE,  # insufficient resources (e.g. too many connections)
    "57": Reason.DATABASE_UNAVAILABLE,  # operator intervention (shutdown, starting up)
}

_CONNINFO_PASSWORD_RE = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def classify_message(text: str) -> Reason | None:
    """The reason a libpq/pg_dump/server message names, if it names one."""
    return next(
        (reason for pattern, reason in _MESSAGES if re.search(pattern, text, re.IGNORECASE)),
        None,
    )


def classify_db_error(sqlstate: str | None, message: str, *, connecting: bool) -> Reason:
    """Reason for a database error; connection failures carry no SQLSTATE, only text."""
    if sqlstate is not None:
        if sqlstate in _SQLSTATES:
            return _SQLSTATES[sqlstate]
        if sqlstate[:2] in _SQLSTATE_CLASSES:
            return _SQLSTATE_CLASSES[sqlstate[:2]]
    found = classify_message(message)
    if found is not None:
        return found
    return Reason.DATABASE_UNAVAILABLE if connecting else Reason.DUMP_FAILED


def classify_exit(returncode: int, stderr: str) -> Reason:
    """Reason for a pg_dump that exited non-zero (negative: killed by that signal)."""
    if returncode < 0:
        return Reason.DUMP_INTERRUPTED
    return classify_message(stderr) or Reason.DUMP_FAILED


def describe_exit(returncode: int) -> str:
    """'exited with status 1' or 'was killed by SIGKILL'."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name}"
    return f"exited with status {returncode}"


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` without the given secrets or any conninfo `password=...` value."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return _CONNINFO_PASSWORD_RE.sub(r"\1***", text)
