"""Failure classification and secret redaction."""

import pytest

from tenant_backup.api.reasons import Reason
from tenant_backup.runner.classify import (
    classify_db_error,
    classify_exit,
    classify_message,
    describe_exit,
    redact,
)

CONN = 'connection to server at "db", port 5432 failed: '


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (CONN + 'FATAL:  password authentication failed for user "x"', Reason.AUTH_FAILED),
        (CONN + "fe_sendauth: no password supplied", Reason.AUTH_FAILED),
        (CONN + 'FATAL:  no pg_hba.conf entry for host "1.2.3.4"', Reason.AUTH_FAILED),
        (CONN + 'FATAL:  permission denied for database "t"', Reason.PERMISSION_DENIED),
        (CONN + "Connection refused\n\tIs the server running", Reason.DATABASE_UNAVAILABLE),
        (CONN + "timeout expired", Reason.DATABASE_UNAVAILABLE),
        (CONN + "FATAL:  the database system is starting up", Reason.DATABASE_UNAVAILABLE),
        (CONN + "FATAL:  sorry, too many clients already", Reason.DATABASE_UNAVAILABLE),
        ('could not translate host name "db" to address', Reason.DATABASE_UNAVAILABLE),
        (
            "pg_dump: error: aborting because of server version mismatch",
            Reason.VERSION_MISMATCH,
        ),
        (
            "pg_dump: error: query failed: ERROR:  permission denied for table secrets\n"
            "pg_dump: detail: Query was: LOCK TABLE tenant_acme.secrets IN ACCESS SHARE MODE",
            Reason.PERMISSION_DENIED,
        ),
        (
            "pg_dump: error: query failed: ERROR:  canceling statement due to statement timeout\n"
            "pg_dump: detail: Query was: LOCK TABLE tenant_acme.orders IN ACCESS SHARE MODE",
            Reason.LOCK_TIMEOUT,
        ),
        ("ERROR:  could not obtain lock on relation", Reason.LOCK_TIMEOUT),
        (
            "pg_dump: error: query would be affected by row-level security policy for table",
            Reason.PERMISSION_DENIED,
        ),
        ('pg_dump: error: no matching schemas were found for pattern "x"', Reason.TENANT_NOT_FOUND),
        (
            "pg_dump: error: server closed the connection unexpectedly",
            Reason.DATABASE_UNAVAILABLE,
        ),
        (
            "FATAL:  terminating connection due to administrator command",
            Reason.DATABASE_UNAVAILABLE,
        ),
    ],
)
def test_messages(message: str, reason: Reason) -> None:
    assert classify_message(message) is reason


def test_unknown_message_is_unclassified() -> None:
    assert classify_message("pg_dump: error: out of memory") is None


@pytest.mark.parametrize(
    ("sqlstate", "reason"),
    [
        ("28P01", Reason.AUTH_FAILED),
        ("28000", Reason.AUTH_FAILED),
        ("42501", Reason.PERMISSION_DENIED),
        ("55P03", Reason.LOCK_TIMEOUT),
        ("08006", Reason.DATABASE_UNAVAILABLE),
        ("57P03", Reason.DATABASE_UNAVAILABLE),
        ("53300", Reason.DATABASE_UNAVAILABLE),
    ],
)
def test_sqlstates_win_over_text(sqlstate: str, reason: Reason) -> None:
    assert classify_db_error(sqlstate, "whatever", connecting=False) is reason


def test_unclassified_errors_depend_on_the_phase() -> None:
    assert classify_db_error(None, "odd", connecting=True) is Reason.DATABASE_UNAVAILABLE
    assert classify_db_error("XX000", "odd", connecting=False) is Reason.DUMP_FAILED
    assert classify_db_error(None, "password authentication failed", connecting=True) is (
        Reason.AUTH_FAILED
    )


def test_exit_statuses() -> None:
    assert classify_exit(-9, "") is Reason.DUMP_INTERRUPTED
    assert classify_exit(1, "pg_dump: error: out of memory") is Reason.DUMP_FAILED
    assert classify_exit(1, "ERROR:  permission denied for schema x") is Reason.PERMISSION_DENIED
    assert describe_exit(-9) == "was killed by SIGKILL"
    assert describe_exit(1) == "exited with status 1"
    assert describe_exit(-200) == "was killed by signal 200"


def test_redact_removes_secrets_and_conninfo_passwords() -> None:
    text = "failed for hunter2 in host=db password=hunter2 and password = 'a b' end"
    assert redact(text, ["hunter2", ""]) == (
        "failed for *** in host=db password=*** and password = *** end"
    )
