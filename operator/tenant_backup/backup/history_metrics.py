"""Prometheus metrics read from the history table: they outlive the TenantBackups, so an
alert sees a tenant whose objects were deleted, or that never succeeded, which the metrics
of the objects present cannot show.

`HistoryMetrics` is handed the read (the history store's `tenant_records`) and calls it at
scrape time, at most once per `min_interval` seconds; a failed read keeps the previous values
and says so (`tenant_backup_history_read_ok` 0), so an alert on them neither vanishes nor
flaps while the database is away.
"""

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from threading import Lock

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

PREFIX = "tenant_backup_history"
MIN_INTERVAL_SECONDS = 60.0
"""How often a scrape may read the table (Prometheus scrapes every 30 s by default)."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TenantRecord:
    """One tenant of one namespace as the history table knows it."""

    namespace: str
    tenant: str
    first_recorded: datetime
    last_success: datetime | None
    """When its newest succeeded backup finished; None: none ever did."""


class HistoryMetrics(Collector):
    """The tenants' last success and first record, from `read`, cached between scrapes."""

    def __init__(
        self,
        registry: CollectorRegistry,
        read: Callable[[], Sequence[TenantRecord]],
        min_interval: float = MIN_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._min_interval = min_interval
        self._clock = clock
        self._lock = Lock()
        self._records: Sequence[TenantRecord] = ()
        self._read_at: float | None = None
        self._ok = False
        registry.register(self)

    def _refresh(self) -> None:
        now = self._clock()
        if self._read_at is not None and now - self._read_at < self._min_interval:
            return
        self._read_at = now
        try:
            self._records = self._read()
            self._ok = True
        except Exception as error:  # the database away: keep the last values, say so
            log.warning("history metrics: reading the history table failed: %s", error)
            self._ok = False

    def describe(self) -> Iterator[Metric]:
        """The gauges without values: registering reads nothing."""
        return self._families((), ok=False)

    def collect(self) -> Iterator[Metric]:
        """The gauges, reading the table first when the last read is old enough."""
        with self._lock:
            self._refresh()
            records, ok = self._records, self._ok
        return self._families(records, ok)

    @staticmethod
    def _families(records: Sequence[TenantRecord], ok: bool) -> Iterator[Metric]:
        read_ok = GaugeMetricFamily(
            f"{PREFIX}_read_ok", "1 when the latest read of the history table succeeded, else 0."
        )
        read_ok.add_metric([], 1.0 if ok else 0.0)
        yield read_ok
        labels = ["namespace", "tenant"]
        success = GaugeMetricFamily(
            f"{PREFIX}_last_success_timestamp_seconds",
            "When the newest succeeded backup of the tenant recorded in the history table "
            "finished (kept after its TenantBackup is deleted), by namespace and tenant.",
            labels=labels,
        )
        first = GaugeMetricFamily(
            f"{PREFIX}_first_recorded_timestamp_seconds",
            "When the history table first recorded a backup of the tenant, by namespace and "
            "tenant (with no last success: a tenant that never succeeded).",
            labels=labels,
        )
        for record in records:
            key = [record.namespace, record.tenant]
            first.add_metric(key, record.first_recorded.timestamp())
            if record.last_success is not None:
                success.add_metric(key, record.last_success.timestamp())
        yield success
        yield first
