"""Concurrency limits: totals, per server, one run per tenant, creation order; and queuing."""

import random
from dataclasses import replace
from datetime import timedelta
from typing import Any

from tenant_backup.api.attempts import Phase
from tenant_backup.api.backup import TenantBackup
from tenant_backup.api.reasons import Reason
from tenant_backup.backup.plan import Preflight, hold, may_have_jobs, reconcile, still_queued
from tenant_backup.core import naming
from tenant_backup.core.observe import ObservedJob
from tenant_backup.core.scheduling import (
    UNKNOWN_SERVER,
    Entry,
    Limits,
    State,
    admissible,
    entry_of,
    may_start,
)
from tests.support.factories import T0, UID, backup, backup_body

LIMITS = Limits(total=3, per_server=2)


def entry(n: int, state: State = State.WAITING, server: str = "db:5432", tenant: str = "") -> Entry:
    return Entry(T0 + timedelta(seconds=n), "ns", f"b{n:02}", server, tenant or f"t{n}", state)


def test_free_slot_is_granted() -> None:
    assert may_start(entry(1), [], LIMITS).allowed


def test_per_server_limit() -> None:
    running = [entry(1, State.ACTIVE), entry(2, State.ACTIVE)]
    verdict = may_start(entry(3), running, LIMITS)
    assert not verdict.allowed
    assert "limit 2" in verdict.message
    assert may_start(entry(3, server="other:5432"), running, LIMITS).allowed


def test_total_limit_across_servers() -> None:
    running = [entry(n, State.ACTIVE, server=f"s{n}") for n in range(3)]
    assert not may_start(entry(9, server="s9"), running, LIMITS).allowed


def test_never_two_runs_of_one_tenant_on_one_server() -> None:
    running = [entry(1, State.ACTIVE, tenant="acme")]
    verdict = may_start(entry(2, tenant="acme"), running, LIMITS)
    assert (verdict.allowed, verdict.message) == (False, "another backup of tenant acme is running")
    assert may_start(entry(2, tenant="acme", server="other:1"), running, LIMITS).allowed


def test_older_waiting_backups_go_first() -> None:
    entries = [entry(1, State.ACTIVE), entry(2), entry(3)]
    assert may_start(entry(2), entries, LIMITS).allowed  # one slot left: the oldest waiter
    assert not may_start(entry(3), entries, LIMITS).allowed


def test_unchecked_backups_wait_for_any_server() -> None:
    entries = [entry(1, State.ACTIVE), entry(2, server=UNKNOWN_SERVER)]
    assert not may_start(entry(3), entries, LIMITS).allowed


def _entry(status: dict[str, Any]) -> Entry | None:
    body = backup_body() | {"status": status}
    return entry_of(body, body["spec"]["tenant"])


def test_entries_from_backups() -> None:
    fresh = _entry({})
    assert fresh is not None
    assert (fresh.state, fresh.server) == (State.WAITING, UNKNOWN_SERVER)
    queued = _entry({"phase": "Running", "reason": "Queued", "attempts": 1})
    assert queued is not None
    assert queued.state is State.WAITING
    running = _entry({"phase": "Running", "reason": "JobCreated", "databaseServer": "db:5432"})
    assert running is not None
    assert (running.state, running.server) == (State.ACTIVE, "db:5432")
    assert _entry({"phase": "Running", "reason": "RetryScheduled"}) is None
    assert _entry({"phase": "Succeeded"}) is None
    assert _entry({"phase": "Failed"}) is None
    deleting = backup_body() | {"status": {"phase": "Running", "reason": "JobCreated"}}
    deleting["metadata"] |= {"deletionTimestamp": "2026-11-25T12:05:00Z"}
    assert entry_of(deleting, "acme") is None


def test_an_entry_read_from_the_body_matches_the_model() -> None:
    body = backup_body() | {"status": {"phase": "Pending", "reason": "Queued"}}
    found = entry_of(body, body["spec"]["tenant"])
    model = TenantBackup.from_body(body)
    assert found is not None
    assert (found.created, found.namespace, found.name, found.tenant) == (
        model.metadata.creation_timestamp,
        model.metadata.namespace,
        model.metadata.name,
        model.spec.tenant,
    )


def test_only_the_admissible_waiting_backups_are_woken() -> None:
    limits = Limits(total=3, per_server=2)
    entries = [
        entry(1, State.ACTIVE, server="a:1"),
        entry(2, server="a:1"),  # second slot on a:1
        entry(3, server="a:1"),  # a:1 full once 2 starts: waits
        entry(4, server="b:1"),  # total full once 2 starts: waits
    ]
    assert [e.name for e in admissible(entries, limits)] == [entry(2).name]
    freed = [replace(entries[0], state=State.WAITING), *entries[1:]]
    assert [e.name for e in admissible(freed, limits)] == [entry(1).name, entry(2).name]


def test_admissible_is_what_may_start_admits_among_the_waiting() -> None:
    """The one-pass `admissible` against its definition, on random queues (servers known and
    not yet known, tenants repeating, slots partly taken)."""
    chance = random.Random(17)
    for _ in range(300):
        limits = Limits(total=chance.randint(1, 6), per_server=chance.randint(1, 4))
        entries = [
            entry(
                n,
                chance.choice([State.ACTIVE, State.WAITING, State.WAITING]),
                server=chance.choice(["a:1", "b:1", UNKNOWN_SERVER]),
                tenant=chance.choice(["t1", "t2", "t3", "t4"]),
            )
            for n in chance.sample(range(100), chance.randint(0, 12))
        ]
        waiting = sorted(e for e in entries if e.state is State.WAITING)
        expected = [e for e in waiting if may_start(e, entries, limits).allowed]
        assert admissible(entries, limits) == expected


def test_hold_queues_the_first_attempt_as_pending() -> None:
    first = reconcile(backup(), [], T0, Preflight(server="db:5432"))
    assert first.create_attempt == 1
    held = hold(first, backup(), "2 backups running", T0)
    assert held.create_attempt is None
    status = held.status
    assert (status.phase, status.reason, status.attempts) == (Phase.PENDING, Reason.QUEUED, 0)
    assert status.job_name is None
    assert status.database_server == "db:5432"
    assert status.message == "queued: 2 backups running"
    assert [e.reason for e in held.events] == [Reason.QUEUED]
    again = hold(first, backup().model_copy(update={"status": status}), "still", T0)
    assert again.events == []


def test_still_queued_until_its_next_attempts_job_exists() -> None:
    status = backup().status.model_copy(update={"reason": Reason.QUEUED, "attempts": 1})
    queued = backup().model_copy(update={"status": status})
    first = ObservedJob("nightly-1", 1, UID, T0, None)
    assert still_queued(queued, [first])
    assert not still_queued(queued, [first, ObservedJob("nightly-2", 2, UID, T0, None)])
    assert not still_queued(backup(), [])


def test_jobs_are_listed_once_a_job_can_exist() -> None:
    new = backup()
    finalized = new.model_copy(
        update={
            "metadata": new.metadata.model_copy(update={"finalizers": (naming.FINALIZER_ARTIFACT,)})
        }
    )
    retried = new.model_copy(update={"status": new.status.model_copy(update={"attempts": 1})})
    assert not may_have_jobs(new)  # never started: our finalizer goes on before its first Job
    assert may_have_jobs(finalized)  # a crash between finalizer and status may have left one
    assert may_have_jobs(retried)
