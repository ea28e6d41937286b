"""Serialised admission to Job slots: two threads can never both take the last slot.

An admitted object takes its slot at once, under the gate, and the caller then creates its
Job and records it without holding the gate (so starts proceed in parallel, not one at a
time); a slot not started is given back. The indexes lag behind our own writes by a watch
event (seconds under a burst, more when Kopf's event loop falls behind), so the gate keeps
its own starts and releases until a copy of the indexes shows them, however long that takes:

- a start is counted as running until a copy made after it shows the object running, or no
  longer shows an object that a copy made after the start showed waiting (it finished, backs
  off, or is gone); or until its finish or backoff is recorded, or it is deleted;
- a finish or backoff just recorded frees its slot at once, until a copy made after it no
  longer shows the object running.

Copies of the indexes and reservations are ordered by one sequence (`Snapshot.take` draws
its number before copying), so a pass holding an older copy, which cannot show an object
that arrived since, never drops a start made after it. No timer is involved: an object
reaches a pass only after Kopf indexed it, so only its leaving the index hides it.
"""

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from tenant_backup.api.attempts import AttemptStatus
from tenant_backup.core.scheduling import (
    Entry,
    Limits,
    State,
    Verdict,
    admissible,
    freed,
    may_start,
    wants_slot,
)

Key = tuple[str, str, str]
_sequence = itertools.count()
"""Orders copies of the indexes and reservations (`next` is atomic)."""


@dataclass(frozen=True)
class Snapshot:
    """The slot entries as one copy of the indexes showed them, and the copy's place in the
    sequence (drawn before it began: it shows at least what the indexes held then)."""

    entries: list[Entry]
    seq: int

    @classmethod
    def take(cls, copy: Callable[[], Iterable[Entry]]) -> "Snapshot":
        """A copy made now by `copy`."""
        seq = next(_sequence)
        return cls(list(copy()), seq)


@dataclass(frozen=True)
class Reservation:
    """A slot the gate gave: the object as running, when, and the latest copy made since
    that showed it (still waiting)."""

    entry: Entry
    seq: int
    shown: int | None = None


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
        self._reserved: dict[Key, Reservation] = {}
        self._released: dict[Key, int] = {}

    def peek(self, candidate: Entry, snapshot: Snapshot) -> Verdict:
        """Whether `candidate` would be admitted now; reserves nothing. It holds the gate
        only to copy the reservations: thousands of new backups peek during a burst, and
        an admission must not wait behind them."""
        entries, _, _ = _with_reservations(snapshot, *self._reservations())
        return may_start(candidate, entries, self.limits)

    def admissible(self, snapshot: Snapshot) -> list[Entry]:
        """The waiting backups that would be admitted now, oldest first; reserves nothing."""
        entries, _, _ = _with_reservations(snapshot, *self._reservations())
        return admissible(entries, self.limits)

    @contextmanager
    def admission(self, candidate: Entry, snapshot: Snapshot) -> Iterator[Ticket]:
        """The verdict, with the slot taken if admitted, while the caller acts on it (creates
        the Job, records it) and sets `started`; a slot not started is given back."""
        key = candidate.key
        released: int | None = None
        with self._lock:
            entries, self._reserved, self._released = _with_reservations(
                snapshot, self._reserved, self._released
            )
            ticket = Ticket(may_start(candidate, entries, self.limits))
            if ticket.verdict.allowed:
                running = replace(candidate, state=State.ACTIVE)
                self._reserved[key] = Reservation(running, next(_sequence))
                released = self._released.pop(key, None)  # its next attempt holds one again
        try:
            yield ticket
        finally:
            if ticket.given_back:
                with self._lock:
                    self._reserved.pop(key, None)
                    if released is not None:
                        self._released[key] = released

    def release(self, key: Key) -> None:
        """The object `key` (kind, namespace, name) no longer holds a slot: its finish or
        backoff was just written, which the indexes show only later."""
        with self._lock:
            self._reserved.pop(key, None)
            self._released[key] = next(_sequence)

    def reserved(self, key: Key) -> bool:
        """Whether the gate counts `key` as running on its own word (a start not shown yet)."""
        with self._lock:
            return key in self._reserved

    def forget(self, key: Key) -> None:
        """The object `key` is gone: a start of it no longer counts. A release stays until
        the copies show it gone: an older one may still show it running."""
        with self._lock:
            self._reserved.pop(key, None)

    def _reservations(self) -> tuple[dict[Key, Reservation], dict[Key, int]]:
        with self._lock:
            return dict(self._reserved), dict(self._released)


def _with_reservations(
    snapshot: Snapshot, reserved: dict[Key, Reservation], released: dict[Key, int]
) -> tuple[list[Entry], dict[Key, Reservation], dict[Key, int]]:
    """The copy's entries with the starts and releases it does not show yet (it shows the
    former waiting or not at all, the latter running), and those still to keep (see the
    module's rules); the rest are dropped. One pass over the copy."""
    if not reserved and not released:
        return snapshot.entries, reserved, released
    seq = snapshot.seq
    entries: list[Entry] = []
    kept: dict[Key, Reservation] = {}
    still: dict[Key, int] = {}
    shown: set[Key] = set()
    for entry in snapshot.entries:
        key = entry.key
        shown.add(key)
        reservation = reserved.get(key)
        release = released.get(key)
        if entry.state is State.ACTIVE:
            if release is not None:
                still[key] = release  # recorded finished; this copy is behind
                continue
            if reservation is not None and seq < reservation.seq:
                kept[key] = reservation  # a copy from before this start (of a retry)
                entry = reservation.entry
        else:
            if reservation is not None:
                if seq > reservation.seq and (reservation.shown is None or reservation.shown < seq):
                    reservation = replace(reservation, shown=seq)
                kept[key] = reservation
                entry = reservation.entry
            if release is not None and seq < release:
                still[key] = release
        entries.append(entry)
    for key, reservation in reserved.items():
        if key not in shown and (reservation.shown is None or seq < reservation.shown):
            kept[key] = reservation  # not indexed yet, or this copy is older than one that was
            entries.append(reservation.entry)
    for key, release in released.items():
        if key not in shown and seq < release:
            still[key] = release
    return entries, kept, still


@dataclass(frozen=True)
class Slots:
    """The gate together with a copy of the indexes, as one pass took it."""

    gate: Gate
    snapshot: Snapshot
    on_release: Callable[[], None] = lambda: None
    """Called once a slot was released (to wake the queued objects now admissible)."""
    on_denied: Callable[[Key], None] = lambda key: None
    """Called with the key of an object turned away (so that it is woken again when it is
    admissible, though it may have been found admissible before)."""

    def peek(self, candidate: Entry) -> Verdict:
        """See `Gate.peek`."""
        verdict = self.gate.peek(candidate, self.snapshot)
        if not verdict.allowed:
            self.on_denied(candidate.key)
        return verdict

    @contextmanager
    def admission(self, candidate: Entry) -> Iterator[Ticket]:
        """See `Gate.admission`; a slot given back unstarted calls `on_release`, as others
        may have been turned away for it meanwhile."""
        ticket = None
        try:
            with self.gate.admission(candidate, self.snapshot) as ticket:
                if not ticket.verdict.allowed:
                    self.on_denied(candidate.key)
                yield ticket
        finally:
            if ticket is not None and ticket.given_back:
                self.on_release()

    def recorded(self, key: Key, before: AttemptStatus, after: AttemptStatus) -> None:
        """The object's status `after` was written over `before`: release its slot if it
        gave one up (a finish, a backoff), or if the gate still counts a start of it that
        `after` no longer wants (a Job started whose running status was never written, and
        finished since); then `on_release`."""
        if freed(before, after) or (
            not wants_slot(after.phase, after.reason) and self.gate.reserved(key)
        ):
            self.gate.release(key)
            self.on_release()
