"""Serialised admission to Job slots: two threads can never both take the last slot.

The index of TenantBackups lags behind our own writes by a watch event, so a backup that was
just started is remembered here until the index shows it running or finished (or, should its
status write have been lost, for at most RESERVATION_SECONDS).
"""

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace

from tenant_backup.core.scheduling import (
    Entry,
    Limits,
    State,
    Verdict,
    admissible,
    may_start,
)

RESERVATION_SECONDS = 30.0
Key = tuple[str, str, str]


@dataclass
class Ticket:
    """One admission: the verdict, and whether the caller then really started a Job."""

    verdict: Verdict
    started: bool = False


class Gate:
    """Admits backups one at a time against the limits."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._reserved: dict[Key, tuple[Entry, float]] = {}

    def peek(self, candidate: Entry, indexed: Iterable[Entry]) -> Verdict:
        """Whether `candidate` would be admitted now; reserves nothing. It holds the gate
        only to copy the reservations: thousands of new backups peek during a burst, and
        an admission must not wait behind them."""
        entries, _ = _with_reservations(indexed, self._reservations())
        return may_start(candidate, entries, self.limits)

    def admissible(self, indexed: Iterable[Entry]) -> list[Entry]:
        """The waiting backups that would be admitted now, oldest first; reserves nothing."""
        entries, _ = _with_reservations(indexed, self._reservations())
        return admissible(entries, self.limits)

    @contextmanager
    def admission(self, candidate: Entry, indexed: Iterable[Entry]) -> Iterator[Ticket]:
        """Hold the gate while the caller acts on the verdict (creates the Job, records it)."""
        with self._lock:
            entries, self._reserved = _with_reservations(indexed, self._reserved)
            ticket = Ticket(may_start(candidate, entries, self.limits))
            yield ticket
            if ticket.started:
                started = replace(candidate, state=State.ACTIVE)
                self._reserved[candidate.key] = (started, time.monotonic())

    def _reservations(self) -> dict[Key, tuple[Entry, float]]:
        with self._lock:
            return dict(self._reserved)


def _with_reservations(
    indexed: Iterable[Entry], reserved: dict[Key, tuple[Entry, float]]
) -> tuple[list[Entry], dict[Key, tuple[Entry, float]]]:
    """The index with the reservations it has not caught up with, and those reservations
    (the rest are dropped). Without reservations (mostly), the index as it is."""
    if not reserved:
        return list(indexed), reserved
    now = time.monotonic()
    entries = {entry.key: entry for entry in indexed}
    kept = {
        key: (entry, since)
        for key, (entry, since) in reserved.items()
        if now - since < RESERVATION_SECONDS and _still_waiting(entries.get(key))
    }
    entries.update({key: entry for key, (entry, _) in kept.items()})
    return list(entries.values()), kept


@dataclass(frozen=True)
class Slots:
    """The gate together with the index as one handler call saw it."""

    gate: Gate
    indexed: list[Entry]

    def peek(self, candidate: Entry) -> Verdict:
        """See `Gate.peek`."""
        return self.gate.peek(candidate, self.indexed)

    def admission(self, candidate: Entry) -> AbstractContextManager[Ticket]:
        """See `Gate.admission`."""
        return self.gate.admission(candidate, self.indexed)


def _still_waiting(indexed: Entry | None) -> bool:
    """Whether the index still shows a started backup as waiting (it has not caught up)."""
    return indexed is not None and indexed.state is State.WAITING
