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
        self._reserved: dict[tuple[str, str, str], tuple[Entry, float]] = {}

    def peek(self, candidate: Entry, indexed: Iterable[Entry]) -> Verdict:
        """Whether `candidate` would be admitted now; reserves nothing."""
        with self._lock:
            return may_start(candidate, self._entries(indexed), self.limits)

    def admissible(self, indexed: Iterable[Entry]) -> list[Entry]:
        """The waiting backups that would be admitted now, oldest first; reserves nothing."""
        with self._lock:
            return admissible(self._entries(indexed), self.limits)

    @contextmanager
    def admission(self, candidate: Entry, indexed: Iterable[Entry]) -> Iterator[Ticket]:
        """Hold the gate while the caller acts on the verdict (creates the Job, records it)."""
        with self._lock:
            ticket = Ticket(may_start(candidate, self._entries(indexed), self.limits))
            yield ticket
            if ticket.started:
                started = replace(candidate, state=State.ACTIVE)
                self._reserved[candidate.key] = (started, time.monotonic())

    def _entries(self, indexed: Iterable[Entry]) -> list[Entry]:
        """The index with the reservations it has not caught up with; drops the rest.
        Called under the lock. Without reservations (mostly), the index as it is."""
        if not self._reserved:
            return list(indexed)
        now = time.monotonic()
        entries = {entry.key: entry for entry in indexed}
        self._reserved = {
            key: (entry, since)
            for key, (entry, since) in self._reserved.items()
            if now - since < RESERVATION_SECONDS and _still_waiting(entries.get(key))
        }
        entries.update({key: entry for key, (entry, _) in self._reserved.items()})
        return list(entries.values())


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
