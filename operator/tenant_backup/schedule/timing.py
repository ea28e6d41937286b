"""Pure: which slot of a schedule to take now, and where each tenant starts in the spread window.

Like Kubernetes CronJob, but never a burst: of the slots since the last one taken (or since
the schedule was created), only the newest may run, and only within the starting deadline;
the others count as missed, however long the operator was down. The caller keeps
`Due.last_slot` in the schedule's status, so that a restart recomputes the same answer.
"""

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from tenant_backup.schedule.cron import Cron

MISSED_COUNT_CAP = 10_000
"""Missed slots are counted up to here (a year of `* * * * *` is 525,600 slots)."""
_LOOKBACK = timedelta(hours=1)


@dataclass(frozen=True)
class Due:
    """What a schedule should do now."""

    slot: datetime | None
    """The slot to take now (UTC); None when no slot is due or the newest passed its
    starting deadline."""
    missed: int
    """Slots passed over: all but the newest, and the newest too when it passed its deadline.
    At most MISSED_COUNT_CAP."""
    missed_capped: bool
    """More than MISSED_COUNT_CAP slots were missed; `missed` says the cap."""
    next_slot: datetime
    """The first slot after now (and after the last slot): when to look again."""
    last_slot: datetime | None
    """The schedule's last slot from now on, to store: the slot taken, or the newest slot
    passed over; the previous last slot when nothing was due."""


def due(
    cron: Cron,
    last_slot: datetime | None,
    created: datetime,
    now: datetime,
    starting_deadline: timedelta | None,
) -> Due:
    """The slot to take at `now`, of those strictly after `last_slot` (or after `created`
    for a schedule that never took one) and at or before `now` (aware datetimes)."""
    after = created if last_slot is None else last_slot
    counted = 0
    newest: datetime | None = None
    for slot in cron.slots_after(after):
        if slot > now:
            break
        counted, newest = counted + 1, slot
        # Two more than the cap: past it whether or not the newest runs. Then skip ahead.
        if counted == MISSED_COUNT_CAP + 2:
            newest = _newest(cron, newest, now)
            break
    next_slot = cron.next_after(max(now, after))
    if newest is None:
        return Due(None, 0, False, next_slot, last_slot)
    on_time = starting_deadline is None or now - newest <= starting_deadline
    missed = counted - on_time
    return Due(
        slot=newest if on_time else None,
        missed=min(missed, MISSED_COUNT_CAP),
        missed_capped=missed > MISSED_COUNT_CAP,
        next_slot=next_slot,
        last_slot=newest,
    )


def _newest(cron: Cron, known: datetime, now: datetime) -> datetime:
    """The newest slot at or before `now`, `known` being one: looks back from `now` over a
    window that doubles until it holds a slot, instead of walking every slot from `known`."""
    lookback = _LOOKBACK
    while now - lookback > known:
        found = _last(cron.slots_after(now - lookback), now)
        if found is not None:
            return found
        lookback *= 2
    return _last(cron.slots_after(known), now) or known


def _last(slots: Iterator[datetime], now: datetime) -> datetime | None:
    last = None
    for slot in slots:
        if slot > now:
            break
        last = slot
    return last


def spread_offset(namespace: str, schedule: str, tenant: str, window: timedelta) -> timedelta:
    """How long after a slot this tenant's backup starts: whole seconds in [0, window),
    spread evenly over tenants and the same in every process (sha256 of
    `namespace/schedule/tenant`); 0 for a window under a second."""
    seconds = int(window.total_seconds())
    if seconds <= 0:
        return timedelta(0)
    digest = hashlib.sha256(f"{namespace}/{schedule}/{tenant}".encode()).digest()
    return timedelta(seconds=int.from_bytes(digest[:8], "big") % seconds)
