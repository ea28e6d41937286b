"""The history table's metrics: read at scrape time at most once per interval, the previous
values kept (and read_ok 0) while a read fails."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from tenant_backup.backup.history_metrics import HistoryMetrics, TenantRecord

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
ACME = TenantRecord("team-a", "acme", T0, T1)
INITECH = TenantRecord("team-b", "initech", T0, None)


class Table:
    """What the history store answers, and how often it was asked."""

    def __init__(self) -> None:
        self.records: Sequence[TenantRecord] = [ACME, INITECH]
        self.down = False
        self.reads = 0

    def read(self) -> Sequence[TenantRecord]:
        self.reads += 1
        if self.down:
            raise ConnectionError("connection refused")
        return self.records


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(f"tenant_backup_history_{name}", labels)


def test_last_success_and_first_record_per_tenant() -> None:
    registry, table = CollectorRegistry(), Table()
    HistoryMetrics(registry, table.read, clock=lambda: 0.0)
    acme = {"namespace": "team-a", "tenant": "acme"}
    initech = {"namespace": "team-b", "tenant": "initech"}
    assert sample(registry, "last_success_timestamp_seconds", **acme) == T1.timestamp()
    assert sample(registry, "first_recorded_timestamp_seconds", **acme) == T0.timestamp()
    assert sample(registry, "last_success_timestamp_seconds", **initech) is None
    assert sample(registry, "first_recorded_timestamp_seconds", **initech) == T0.timestamp()
    assert sample(registry, "read_ok") == 1.0


def test_scrapes_read_the_table_at_most_once_per_interval() -> None:
    registry, table, now = CollectorRegistry(), Table(), [0.0]
    HistoryMetrics(registry, table.read, min_interval=60, clock=lambda: now[0])
    assert table.reads == 0  # registering reads nothing
    list(registry.collect())
    for now[0] in (1.0, 30.0, 59.0):
        list(registry.collect())
    assert table.reads == 1
    now[0] = 60.0
    list(registry.collect())
    assert table.reads == 2


def test_a_failed_read_keeps_the_last_values_and_says_so() -> None:
    registry, table, now = CollectorRegistry(), Table(), [0.0]
    HistoryMetrics(registry, table.read, min_interval=60, clock=lambda: now[0])
    list(registry.collect())
    table.down, now[0] = True, 60.0
    acme = {"namespace": "team-a", "tenant": "acme"}
    assert sample(registry, "read_ok") == 0.0
    assert sample(registry, "first_recorded_timestamp_seconds", **acme) == T0.timestamp()
    table.down, table.records, now[0] = False, [INITECH], 120.0
    assert sample(registry, "read_ok") == 1.0
    assert (
        sample(registry, "first_recorded_timestamp_seconds", **acme) is None
    )  # gone from the table


def test_a_database_never_reached_exports_no_tenant() -> None:
    registry, table = CollectorRegistry(), Table()
    table.down = True
    HistoryMetrics(registry, table.read, clock=lambda: 0.0)
    assert sample(registry, "read_ok") == 0.0
    assert (
        sample(registry, "first_recorded_timestamp_seconds", namespace="team-a", tenant="acme")
        is None
    )
