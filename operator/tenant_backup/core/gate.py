"""Serialised admission to Job slots: two threads can never both take the last slot.

An admitted object takes its slot at once, under the gate, and the caller then creates its
Job and records it without holding the gate (so starts proceed in parallel, not one at a
time); a slot not started is given back. The index of TenantBackups lags behind our own
writes by a watch event, so a backup that was just started is remembered here until the
index shows it running or finished (or, should its status write have been lost, for at most
RESERVATION_SECONDS after its start); and one whose finish (or backoff) was just recorded
gives its slot up here at once, not once the index shows it (under a burst, the watch event
can come seconds later).
"""

import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
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
STARTING = math.inf
"""The reservation stamp of a slot whose Job is being created: it never lapses meanwhile."""
Key = tuple[str, str, str]


@dataclass
class Ticket:
    """One admission: the verdict, and whether the caller then really started a Job."""

    verdict: Verdict
    started: bool = False

    @property
    def given_back(self) -> bool:
        """Admitted, but no Job was started: the slot it took is free again."""
        return self.verdict.allowed and not self.started


class Gate:
    """Admits backups one at a time against the limits."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._reserved: dict[Key, tuple[Entry, float]] = {}
        self._released: dict[Key, float] = {}

    def peek(self, candidate: Entry, indexed: Iterable[Entry]) -> Verdict:
        """Whether `candidate` would be admitted now; reserves nothing. It holds the gate
        only to copy the reservations: thousands of new backups peek during a burst, and
        an admission must not wait behind them."""
        entries, _, _ = _with_reservations(indexed, *self._reservations())
        return may_start(candidate, entries, self.limits)

    def admissible(self, indexed: Iterable[Entry]) -> list[Entry]:
        """The waiting backups that would be admitted now, oldest first; reserves nothing."""
        entries, _, _ = _with_reservations(indexed, *self._reservations())
        return admissible(entries, self.limits)

    @contextmanager
    def admission(self, candidate: Entry, indexed: Iterable[Entry]) -> Iterator[Ticket]:
        """The verdict, with the slot taken if admitted, while the caller acts on it (creates
        the Job, records it) and sets `started`; a slot not started is given back."""
        key = candidate.key
        released: float | None = None
        with self._lock:
            entries, self._reserved, self._released = _with_reservations(
                indexed, self._reserved, self._released
            )
            ticket = Ticket(may_start(candidate, entries, self.limits))
            if ticket.verdict.allowed:
                self._reserved[key] = (replace(candidate, state=State.ACTIVE), STARTING)
                released = self._released.pop(key, None)  # its next attempt holds one again
        try:
            yield ticket
        finally:
            if ticket.verdict.allowed:
                with self._lock:
                    reservation = self._reserved.pop(key, None)
                    if ticket.given_back and released is not None:
                        self._released[key] = released
                    elif ticket.started and reservation is not None:
                        self._reserved[key] = (reservation[0], time.monotonic())

    def release(self, key: Key) -> None:
        """The object `key` (kind, namespace, name) no longer holds a slot: its finish or
        backoff was just written, which the index shows only later."""
        with self._lock:
            self._reserved.pop(key, None)
            self._released[key] = time.monotonic()

    def _reservations(self) -> tuple[dict[Key, tuple[Entry, float]], dict[Key, float]]:
        with self._lock:
            return dict(self._reserved), dict(self._released)


def _with_reservations(
    indexed: Iterable[Entry],
    reserved: dict[Key, tuple[Entry, float]],
    released: dict[Key, float],
) -> tuple[list[Entry], dict[Key, tuple[Entry, float]], dict[Key, float]]:
    """The index with the reservations and releases it has not caught up with (it still
    shows the former waiting, the latter running), and those; the rest are dropped. A
    reservation whose object this copy of the index does not show yet (a copy taken before
    the object arrived) is counted as it is, until it lapses. One pass over the index."""
    if not reserved and not released:
        return list(indexed), reserved, released
    now = time.monotonic()
    entries: list[Entry] = []
    kept: dict[Key, tuple[Entry, float]] = {}
    still: dict[Key, float] = {}
    shown: set[Key] = set()
    for entry in indexed:
        shown.add(entry.key)
        reservation = reserved.get(entry.key)
        release = released.get(entry.key)
        if release is not None and entry.state is State.ACTIVE:
            if now - release < RESERVATION_SECONDS:
                still[entry.key] = release
                continue
        elif (
            reservation is not None
            and entry.state is State.WAITING
            and now - reservation[1] < RESERVATION_SECONDS
        ):
            kept[entry.key] = reservation
            entry = reservation[0]
        entries.append(entry)
    for key, reservation in reserved.items():
        if key not in shown and now - reservation[1] < RESERVATION_SECONDS:
            kept[key] = reservation
            entries.append(reservation[0])
    return entries, kept, still


@dataclass(frozen=True)
class Slots:
    """The gate together with the index as one handler call saw it."""

    gate: Gate
    indexed: list[Entry]
    on_release: Callable[[], None] = lambda: None
    """Called once a slot was released (to wake the queued objects now admissible)."""
    on_denied: Callable[[Key], None] = lambda key: None
    """Called with the key of an object turned away (so that it is woken again when it is
    admissible, though it may have been found admissible before)."""

    def peek(self, candidate: Entry) -> Verdict:
        """See `Gate.peek`."""
        verdict = self.gate.peek(candidate, self.indexed)
        if not verdict.allowed:
            self.on_denied(candidate.key)
        return verdict

    @contextmanager
    def admission(self, candidate: Entry) -> Iterator[Ticket]:
        """See `Gate.admission`; a slot given back unstarted calls `on_release`, as others
        may have been turned away for it meanwhile."""
        ticket = None
        try:
            with self.gate.admission(candidate, self.indexed) as ticket:
                if not ticket.verdict.allowed:
                    self.on_denied(candidate.key)
                yield ticket
        finally:
            if ticket is not None and ticket.given_back:
                self.on_release()

    def release(self, key: Key) -> None:
        """See `Gate.release`; then `on_release`."""
        self.gate.release(key)
        self.on_release()
