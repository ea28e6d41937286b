"""Which slot a schedule takes now (never a burst after downtime), what it counts as missed,
and where each tenant starts within the spread window."""

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from tenant_backup.schedule.cron import parse_cron
from tenant_backup.schedule.timing import MISSED_COUNT_CAP, Due, due, spread_offset

T0 = datetime(2026, 6, 1, tzinfo=UTC)
HOURLY = parse_cron("0 * * * *", "UTC")
MINUTELY = parse_cron("* * * * *", "UTC")


def at(hours: float = 0, minutes: float = 0, seconds: float = 0) -> datetime:
    return T0 + timedelta(hours=hours, minutes=minutes, seconds=seconds)


@pytest.mark.parametrize(
    ("last_slot", "created", "now", "deadline", "expected"),
    [
        # On time: the slot that just passed.
        (at(0), at(-5), at(1, seconds=5), None, Due(at(1), 0, False, at(2), at(1))),
        # The slot is exactly now: due.
        (at(0), at(-5), at(1), None, Due(at(1), 0, False, at(2), at(1))),
        # Between slots: nothing due, the last slot stays.
        (at(1), at(-5), at(1, 30), None, Due(None, 0, False, at(2), at(1))),
        # 101 slots passed (operator down): exactly one catch-up, the newest; 100 missed.
        (at(0), at(-5), at(101, 5), None, Due(at(101), 100, False, at(102), at(101))),
        # The newest is past the deadline: none taken, all 101 missed, the newest stored.
        (at(0), at(-5), at(101, 5), timedelta(minutes=1), Due(None, 101, False, at(102), at(101))),
        # The deadline is inclusive.
        (at(0), at(-5), at(1, 1), timedelta(minutes=1), Due(at(1), 0, False, at(2), at(1))),
        (at(0), at(-5), at(1, 1, 1), timedelta(minutes=1), Due(None, 1, False, at(2), at(1))),
        # Never ran: slots after creation count.
        (None, at(0, 10), at(1, seconds=5), None, Due(at(1), 0, False, at(2), at(1))),
        (None, at(0, 10), at(3, seconds=5), None, Due(at(3), 2, False, at(4), at(3))),
        # Created after a slot: that slot is not run.
        (None, at(0, 0, 30), at(0, 30), None, Due(None, 0, False, at(1), None)),
        # Created exactly at a slot: not run either (strictly after creation).
        (None, at(0), at(0, 30), None, Due(None, 0, False, at(1), None)),
        # A clock behind the stored last slot: nothing due, next is after the last slot.
        (at(5), at(-5), at(3, 30), None, Due(None, 0, False, at(6), at(5))),
    ],
)
def test_due(
    last_slot: datetime | None,
    created: datetime,
    now: datetime,
    deadline: timedelta | None,
    expected: Due,
) -> None:
    assert due(HOURLY, last_slot, created, now, deadline) == expected


def test_a_restart_recomputes_the_same_answer() -> None:
    """What was taken (or passed over) is stored; asked again, nothing more is due."""
    for deadline in (None, timedelta(minutes=1)):
        first = due(HOURLY, at(0), at(-5), at(101, 5), deadline)
        again = due(HOURLY, first.last_slot, at(-5), at(101, 5), deadline)
        assert again == Due(None, 0, False, at(102), at(101))
        later = due(HOURLY, first.last_slot, at(-5), at(102, 0, 1), deadline)
        assert later == Due(at(102), 0, False, at(103), at(102))


def test_a_year_of_minutely_downtime_is_fast_and_capped() -> None:
    now = datetime(2027, 6, 1, 12, 0, 30, tzinfo=UTC)
    started = time.perf_counter()
    result = due(MINUTELY, T0, T0, now, None)
    assert time.perf_counter() - started < 2
    assert result == Due(
        slot=now.replace(second=0),
        missed=MISSED_COUNT_CAP,
        missed_capped=True,
        next_slot=datetime(2027, 6, 1, 12, 1, tzinfo=UTC),
        last_slot=now.replace(second=0),
    )


@pytest.mark.parametrize(
    ("slots_passed", "deadline", "missed", "capped"),
    [
        (MISSED_COUNT_CAP + 1, None, MISSED_COUNT_CAP, False),
        (MISSED_COUNT_CAP + 2, None, MISSED_COUNT_CAP, True),
        (MISSED_COUNT_CAP, timedelta(0), MISSED_COUNT_CAP, False),
        (MISSED_COUNT_CAP + 1, timedelta(0), MISSED_COUNT_CAP, True),
    ],
)
def test_the_cap(slots_passed: int, deadline: timedelta | None, missed: int, capped: bool) -> None:
    now = at(minutes=slots_passed, seconds=1)
    result = due(MINUTELY, T0, T0, now, deadline)
    assert (result.missed, result.missed_capped) == (missed, capped)
    assert result.last_slot == at(minutes=slots_passed)


def test_past_the_cap_the_newest_slot_is_still_found() -> None:
    """Business hours on weekdays, down for a year, asked on a Sunday: Friday 17:59."""
    cron = parse_cron("* 9-17 * * 1-5", "Europe/Berlin")
    now = datetime(2027, 6, 6, 12, tzinfo=UTC)  # a Sunday
    result = due(cron, T0, T0, now, None)
    assert result.missed_capped
    assert result.slot == datetime(2027, 6, 4, 15, 59, tzinfo=UTC)  # 17:59 CEST
    assert result.next_slot == datetime(2027, 6, 7, 7, 0, tzinfo=UTC)


def test_past_the_cap_a_daily_schedule_looks_back_far_enough() -> None:
    cron = parse_cron("0 0 * * *", "UTC")
    result = due(cron, datetime(1990, 1, 1, tzinfo=UTC), T0, at(23), None)
    assert result.missed_capped
    assert (result.slot, result.next_slot) == (T0, at(24))


def test_no_double_run_in_the_repeated_hour() -> None:
    cron = parse_cron("30 2 * * *", "Europe/Berlin")
    taken = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    in_repeat = datetime(2026, 10, 25, 1, 45, tzinfo=UTC)  # 02:45 CET
    assert due(cron, taken, T0, in_repeat, None) == Due(
        None, 0, False, datetime(2026, 10, 26, 1, 30, tzinfo=UTC), taken
    )
    # Created inside the repeated hour, after the first 02:30: nothing due that day.
    created = datetime(2026, 10, 25, 1, 10, tzinfo=UTC)  # 02:10 CET
    assert due(cron, None, created, in_repeat, None).slot is None


def test_no_lost_run_at_the_jump() -> None:
    cron = parse_cron("30 2 * * *", "Europe/Berlin")
    before = datetime(2026, 3, 28, 1, 30, tzinfo=UTC)
    now = datetime(2026, 3, 29, 1, 0, 30, tzinfo=UTC)  # 03:00:30 CEST
    assert due(cron, before, T0, now, timedelta(minutes=5)).slot == datetime(
        2026, 3, 29, 1, 0, tzinfo=UTC
    )


# -- The spread window --------------------------------------------------------------------

HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("namespace", "schedule", "tenant", "window", "seconds"),
    [
        ("team-a", "nightly", "acme", HOUR, 3098),
        ("team-a", "nightly", "globex", HOUR, 1652),
        ("team-b", "nightly", "acme", HOUR, 2469),
        ("team-a", "weekly", "acme", HOUR, 3569),
        ("team-a", "nightly", "acme", timedelta(minutes=10), 98),
        ("team-a", "nightly", "acme", timedelta(seconds=1), 0),
        ("team-a", "nightly", "acme", timedelta(seconds=0.5), 0),
        ("team-a", "nightly", "acme", timedelta(0), 0),
    ],
)
def test_spread_offset_is_stable(
    namespace: str, schedule: str, tenant: str, window: timedelta, seconds: int
) -> None:
    """Fixed values: the same in every process and every release."""
    assert spread_offset(namespace, schedule, tenant, window) == timedelta(seconds=seconds)


def test_spread_offsets_are_whole_seconds_inside_the_window_and_roughly_uniform() -> None:
    window = timedelta(minutes=30, seconds=0.5)
    offsets = [spread_offset("team-a", "nightly", f"tenant_{n}", window) for n in range(500)]
    assert all(timedelta(0) <= offset < window for offset in offsets)
    assert all(offset.microseconds == 0 for offset in offsets)
    # 10 buckets of 3 minutes, 50 expected in each (standard deviation about 7).
    buckets = Counter(int(offset.total_seconds()) // 180 for offset in offsets)
    assert set(buckets) == set(range(10))
    assert all(25 <= count <= 75 for count in buckets.values()), buckets
    assert len(set(offsets)) > 400
