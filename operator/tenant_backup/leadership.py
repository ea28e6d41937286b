"""Leader election of the operator's replicas: wait to hold the Lease, keep renewing it, and
say at every moment whether this replica may act (decisions in `core/election.py`).

The holder may act only until `renew_deadline` after its last successful renewal began. A
holder that cannot renew in time stops acting (`is_leader()` turns false and the Kubernetes
adapter refuses our writes) and keeps trying: if it renews the Lease unchanged, nobody else
acted meanwhile and it goes on; once the Lease shows another holder, `lost` is called (the
operator command then exits, so that the pod restarts as a standby).
"""

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from tenant_backup.adapters.lease import LeaseStore
from tenant_backup.core.election import (
    JITTER,
    LeaseRecord,
    Observation,
    Timing,
    acting_until,
    claim,
    held_by_another,
    observe,
    release,
)

log = logging.getLogger(__name__)


class Leadership:
    """One replica's side of the election for one Lease."""

    def __init__(
        self,
        store: LeaseStore,
        identity: str,
        timing: Timing,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.identity = identity
        self.timing = timing
        self._store = store
        self._clock = clock
        self._acting_until = -math.inf
        self._observed: Observation | None = None
        self._rounds = threading.Lock()
        self._released = False

    def is_leader(self) -> bool:
        """Whether this replica may act now."""
        return self._clock() < self._acting_until

    @property
    def holder(self) -> str:
        """The holder as last seen ('' before the first read or once released)."""
        return self._observed.record.holder if self._observed else ""

    def try_acquire_or_renew(self) -> bool:
        """One round: read the Lease and claim it unless another replica holds it; whether
        this replica holds it now. API errors are raised."""
        with self._rounds:
            if self._released:
                return False
            started = self._clock()
            stored = self._store.read()
            if stored is None:
                record = claim(None, self.identity, _wall(), self.timing)
                return self._store.create(record) and self._hold(record, started)
            self._observed = observe(self._observed, stored.record, started)
            if held_by_another(self._observed, self.identity, self._clock()):
                return False
            record = claim(stored.record, self.identity, _wall(), self.timing)
            if not self._store.replace(record, stored.resource_version):
                return False
            return self._hold(record, started)

    def _hold(self, record: LeaseRecord, started: float) -> bool:
        if self._acting_until == -math.inf:  # the first hold of this process
            log.info(
                "leader election: became the leader as %s (Lease %s/%s)",
                self.identity,
                self._store.namespace,
                self._store.name,
            )
        self._observed = Observation(record, started)
        self._acting_until = acting_until(started, self.timing)
        return True

    def acquire(self) -> None:
        """Block until this replica holds the Lease (retrying every retry period, jittered
        as client-go does)."""
        waiting_for = None
        while True:
            try:
                if self.try_acquire_or_renew():
                    return
            except Exception as error:  # the API server unreachable: keep trying
                log.warning("leader election: reading Lease failed: %s", error)
            if self.holder != waiting_for:
                waiting_for = self.holder
                log.info("leader election: standing by, %s holds the Lease", waiting_for)
            time.sleep(self.timing.retry_period * (1 + random.random() * (JITTER - 1)))  # noqa: S311

    def keep(self, lost: Callable[[str], None]) -> threading.Thread:
        """Renew every retry period in a daemon thread; `lost(holder)` once another replica
        holds the Lease."""
        thread = threading.Thread(target=self._renew, args=(lost,), name="lease", daemon=True)
        thread.start()
        return thread

    def _renew(self, lost: Callable[[str], None]) -> None:
        stopped_acting = False
        while not self._released:
            time.sleep(self.timing.retry_period)
            try:
                held = self.try_acquire_or_renew()
            except Exception as error:
                log.warning("leader election: renewing Lease failed: %s", error)
                held = False
            if held and stopped_acting:
                stopped_acting = False
                log.warning("leader election: Lease renewed unchanged, acting again")
            if held or self._released:
                continue
            if self.holder not in ("", self.identity):
                lost(self.holder)
                return
            if not self.is_leader() and not stopped_acting:
                stopped_acting = True
                log.error(
                    "leader election: Lease not renewed within %.0f s, stopped acting",
                    self.timing.renew_deadline,
                )

    def release(self) -> None:
        """Stop acting and renewing, and hand the Lease over if this replica still holds it,
        so a standby takes over at its next try (a graceful stop)."""
        with self._rounds:
            self._released = True
            self._acting_until = -math.inf
            try:
                stored = self._store.read()
                if stored is not None and stored.record.holder == self.identity:
                    self._store.replace(release(stored.record, _wall()), stored.resource_version)
                    log.info("leader election: Lease released")
            except Exception as error:  # it then expires after the lease duration
                log.warning("leader election: releasing Lease failed: %s", error)


def _wall() -> datetime:
    return datetime.now(UTC)
