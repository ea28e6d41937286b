"""Cron schedules: the dialect (Kubernetes CronJob's), the admission pattern, time zones and
daylight saving (Debian cron's rules, as cronsim implements them), and the interval."""

import re
from datetime import UTC, datetime, timedelta
from itertools import islice, takewhile
from zoneinfo import ZoneInfo

import pytest

from tenant_backup.api.cron import TIME_ZONE_PATTERN
from tenant_backup.schedule.cron import SCHEDULE_PATTERN, CronError, parse_cron


def utc(text: str) -> datetime:
    """`"2026-03-29 01:00"` as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def slots(expression: str, zone: str, after: str, count: int) -> list[str]:
    cron = parse_cron(expression, zone)
    return [f"{slot:%Y-%m-%d %H:%M}" for slot in islice(cron.slots_after(utc(after)), count)]


def slots_on(expression: str, zone: str, day: str) -> int:
    """How many slots fall on one local calendar day."""
    midnight = datetime.fromisoformat(day)
    start = midnight.replace(tzinfo=ZoneInfo(zone))
    end = (midnight + timedelta(days=1)).replace(tzinfo=ZoneInfo(zone))
    found = parse_cron(expression, zone).slots_after(start - timedelta(seconds=1))
    return sum(1 for _ in takewhile(lambda slot: slot < end, found))


# -- The dialect and the admission pattern ----------------------------------------------

# expression, the pattern admits it, parse_cron accepts it
DIALECT = [
    ("0 3 * * *", True, True),
    ("*/15 * * * *", True, True),
    ("0 0 1,15 * *", True, True),
    ("0 9-17/2 * * 1-5", True, True),
    ("0 0 * JAN-MAR Mon-Fri", True, True),
    ("0 0 * jan mon", True, True),
    ("0 0 ? * sun", True, True),
    ("05 3 * * 0", True, True),
    ("5/20 * * * *", True, True),
    ("  0 3 * * *  ", True, True),
    ("0\t3 *  * *", True, True),
    ("@hourly", True, True),
    ("@daily", True, True),
    ("@midnight", True, True),
    ("@weekly", True, True),
    ("@monthly", True, True),
    ("@yearly", True, True),
    ("@annually", True, True),
    # seconds fields (robfig cron, Quartz), time zone prefixes, macros CronJob lacks
    ("0 0 1 * * *", False, False),
    ("0 0 1 * * * 2026", False, False),
    ("TZ=Europe/Berlin 0 3 * * *", False, False),
    ("CRON_TZ=UTC 0 3 * * *", False, False),
    ("@reboot", False, False),
    ("@every 1h", False, False),
    ("@DAILY", False, False),
    ("@fortnightly", False, False),
    ("@daily ", False, False),
    (" @daily", False, False),
    ("", False, False),
    ("   ", False, False),
    ("garbage", False, False),
    ("0 3 * *", False, False),
    ("0 3 * * *\n", False, False),
    ("0 0 * * 1#2", False, False),
    # the pattern lets these through; the parser refuses them
    ("60 * * * *", True, False),
    ("0 24 * * *", True, False),
    ("0 0 0 * *", True, False),
    ("0 0 32 * *", True, False),
    ("0 0 * 0 *", True, False),
    ("0 0 * 13 *", True, False),
    ("0 0 * * 7", True, False),
    ("0 0 L * *", True, False),
    ("0 0 LW * *", True, False),
    ("0 0 15W * *", True, False),
    ("0 0 * * 5L", True, False),
    ("0 0 30 2 *", True, False),
    ("0 0 31 4,6,9,11 *", True, False),
    ("5-1 * * * *", True, False),
    ("*/0 * * * *", True, False),
    ("*/x * * * *", True, False),
    ("1,,2 * * * *", True, False),
    ("*-5 * * * *", True, False),
    ("0 0 * * jan", True, False),
    ("0 0 * * monday", True, False),
    ("0 0 * mon *", True, False),
    ("a b c d e", True, False),
]


@pytest.mark.parametrize(("expression", "admitted", "accepted"), DIALECT)
def test_dialect(expression: str, admitted: bool, accepted: bool) -> None:
    assert bool(re.fullmatch(SCHEDULE_PATTERN, expression)) == admitted
    if accepted:
        assert parse_cron(expression, "UTC").expression == expression
    else:
        with pytest.raises(CronError):
            parse_cron(expression, "UTC")


def test_the_pattern_is_re2_syntax() -> None:
    """The API server checks patterns with RE2: no lookarounds, no backreferences."""
    for construct in ("(?=", "(?!", "(?<", "(?P=", r"\1", r"\Z"):
        assert construct not in SCHEDULE_PATTERN
        assert construct not in TIME_ZONE_PATTERN


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("", "the schedule is empty: write 5 fields (minute hour day-of-month month"),
        ("0 0 1 * * *", "6 fields, but a seconds field is not supported"),
        ("0 0 1 * * *", 'here "0 1 * * *"'),
        ("0 3 * *", 'schedule "0 3 * *": 4 fields: write 5'),
        ("garbage", 'schedule "garbage": 1 field: write 5'),
        ("TZ=Europe/Berlin 0 3 * * *", "TZ= and CRON_TZ= are not supported: set spec.timeZone"),
        ("CRON_TZ=UTC 0 3 * * *", "set spec.timeZone"),
        ("@reboot", "@reboot is not supported"),
        ("@every 1h", "@every is not supported"),
        ("@daily ", 'write "@daily" alone'),
        ("@fortnightly", "unknown macro @fortnightly: use one of @yearly"),
        ("60 * * * *", "minute 60 is out of range 0-59"),
        ("0 24 * * *", "hour 24 is out of range 0-23"),
        ("0 0 32 * *", "day-of-month 32 is out of range 1-31"),
        ("0 0 * 13 *", "month 13 is out of range 1-12"),
        ("0 0 * * 7", "day-of-week 7 is out of range 0-6 (Sunday is 0 or sun)"),
        ("0 0 L * *", 'day-of-month "L": the L, W and # extensions are not supported'),
        ("0 0 * * 5L", 'day-of-week "5L": the L, W and # extensions'),
        ("0 0 * * 1#2", 'day-of-week "1#2": the L, W and # extensions'),
        ("0 0 30 2 *", 'day-of-month "30" never occurs in month "2"'),
        ("5-1 * * * *", 'minute range "5-1" runs backwards'),
        ("*/0 * * * *", 'minute step "*/0" must be a number of at least 1'),
        ("0 0 * * monday", 'day-of-week "monday" is not a number or name'),
        ("1,,2 * * * *", 'minute "" is not valid: write numbers, *, ranges a-b'),
    ],
)
def test_refusals_say_what_is_wrong(expression: str, message: str) -> None:
    with pytest.raises(CronError) as refused:
        parse_cron(expression, "UTC")
    assert message in str(refused.value)


@pytest.mark.parametrize("zone", ["Europe/Berln", "Local", "localtime", "America", "", "../x"])
def test_unknown_time_zone_is_named(zone: str) -> None:
    with pytest.raises(CronError) as refused:
        parse_cron("0 3 * * *", zone)
    assert str(refused.value) == (
        f'unknown time zone "{zone}": use an IANA name such as Europe/Berlin or UTC'
    )


@pytest.mark.parametrize(
    ("zone", "admitted"),
    [
        ("Europe/Berlin", True),
        ("America/Argentina/ComodRivadavia", True),
        ("America/Port-au-Prince", True),
        ("Etc/GMT+5", True),
        ("UTC", True),
        ("", False),
        ("../etc/passwd", False),
        ("/etc/localtime", False),
        ("-x", False),
        ("Europe//Berlin", False),
        ("Europe/Berlin ", False),
    ],
)
def test_time_zone_pattern(zone: str, admitted: bool) -> None:
    assert bool(re.fullmatch(TIME_ZONE_PATTERN, zone)) == admitted


# -- Slots ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "zone", "after", "expected"),
    [
        # Europe/Berlin: 2026-03-29 02:00 CET -> 03:00 CEST (01:00 UTC);
        # 2026-10-25 03:00 CEST -> 02:00 CET (01:00 UTC): 02:00-02:59 happens twice.
        # A fixed time in the skipped hour runs once, right after the jump.
        ("30 2 * * *", "Europe/Berlin", "2026-03-28 00:00",
         ["2026-03-28 01:30", "2026-03-29 01:00", "2026-03-30 00:30"]),
        # A fixed time in the repeated hour runs once, at its first (summer time) occurrence.
        ("30 2 * * *", "Europe/Berlin", "2026-10-24 00:00",
         ["2026-10-24 00:30", "2026-10-25 00:30", "2026-10-26 01:30"]),
        # Wildcard hours follow real time: every hour that happens, both 02:00 in autumn.
        ("0 * * * *", "Europe/Berlin", "2026-03-28 23:30",
         ["2026-03-29 00:00", "2026-03-29 01:00", "2026-03-29 02:00"]),
        ("0 * * * *", "Europe/Berlin", "2026-10-24 23:30",
         ["2026-10-25 00:00", "2026-10-25 01:00", "2026-10-25 02:00"]),
        ("*/30 * * * *", "Europe/Berlin", "2026-03-29 00:00",
         ["2026-03-29 00:30", "2026-03-29 01:00", "2026-03-29 01:30"]),
        ("*/30 * * * *", "Europe/Berlin", "2026-10-25 00:00",
         ["2026-10-25 00:30", "2026-10-25 01:00", "2026-10-25 01:30", "2026-10-25 02:00"]),
        # 01:00 CET, then 02:00 (skipped) and 03:00 both at 03:00 CEST, once.
        ("0 1-3 * * *", "Europe/Berlin", "2026-03-28 23:30",
         ["2026-03-29 00:00", "2026-03-29 01:00", "2026-03-29 23:00"]),
        # 01:00 CEST, 02:00 CEST (not again at 02:00 CET), 03:00 CET.
        ("0 1-3 * * *", "Europe/Berlin", "2026-10-24 22:30",
         ["2026-10-24 23:00", "2026-10-25 00:00", "2026-10-25 02:00", "2026-10-26 00:00"]),
        # America/New_York: 2026-03-08 02:00 EST -> 03:00 EDT (07:00 UTC);
        # 2026-11-01 02:00 EDT -> 01:00 EST (06:00 UTC): 01:00-01:59 happens twice.
        ("30 2 * * *", "America/New_York", "2026-03-07 00:00",
         ["2026-03-07 07:30", "2026-03-08 07:00", "2026-03-09 06:30"]),
        ("30 2 * * *", "America/New_York", "2026-10-31 00:00",
         ["2026-10-31 06:30", "2026-11-01 07:30", "2026-11-02 07:30"]),
        ("30 1 * * *", "America/New_York", "2026-10-31 00:00",
         ["2026-10-31 05:30", "2026-11-01 05:30", "2026-11-02 06:30"]),
        ("0 * * * *", "America/New_York", "2026-03-08 05:30",
         ["2026-03-08 06:00", "2026-03-08 07:00", "2026-03-08 08:00"]),
        ("0 * * * *", "America/New_York", "2026-11-01 04:30",
         ["2026-11-01 05:00", "2026-11-01 06:00", "2026-11-01 07:00"]),
        ("*/30 * * * *", "America/New_York", "2026-11-01 05:00",
         ["2026-11-01 05:30", "2026-11-01 06:00", "2026-11-01 06:30", "2026-11-01 07:00"]),
        ("0 1-3 * * *", "America/New_York", "2026-03-08 05:30",
         ["2026-03-08 06:00", "2026-03-08 07:00", "2026-03-09 05:00"]),
        ("0 1-3 * * *", "America/New_York", "2026-11-01 04:30",
         ["2026-11-01 05:00", "2026-11-01 07:00", "2026-11-01 08:00", "2026-11-02 06:00"]),
        # Month ends: only months with a 31st.
        ("0 0 31 * *", "UTC", "2026-01-01 00:00",
         ["2026-01-31 00:00", "2026-03-31 00:00", "2026-05-31 00:00", "2026-07-31 00:00",
          "2026-08-31 00:00", "2026-10-31 00:00", "2026-12-31 00:00"]),
        ("0 0 31 * *", "Europe/Berlin", "2026-03-01 00:00",
         ["2026-03-30 22:00", "2026-05-30 22:00"]),
        # February 29th: leap years only, and 2100 is none.
        ("0 0 29 2 *", "UTC", "2025-01-01 00:00", ["2028-02-29 00:00", "2032-02-29 00:00"]),
        ("0 0 29 2 *", "UTC", "2096-03-01 00:00", ["2104-02-29 00:00"]),
        # Sundays at midnight in New York: 05:00 UTC in winter, 04:00 UTC in summer.
        ("@weekly", "America/New_York", "2026-03-01 00:00",
         ["2026-03-01 05:00", "2026-03-08 05:00", "2026-03-15 04:00"]),
        ("@yearly", "Asia/Tokyo", "2026-06-01 00:00", ["2026-12-31 15:00", "2027-12-31 15:00"]),
        # Days as in CronJob: both day fields restricted: either matches (the 1st, Mondays).
        ("0 0 1 * mon", "UTC", "2026-05-31 00:00",
         ["2026-06-01 00:00", "2026-06-08 00:00", "2026-06-15 00:00", "2026-06-22 00:00",
          "2026-06-29 00:00", "2026-07-01 00:00"]),
        # A stepped day-of-month is restricted in CronJob (Debian cron would read `*`).
        ("0 0 */10 * mon", "UTC", "2026-06-01 00:00",
         ["2026-06-08 00:00", "2026-06-11 00:00", "2026-06-15 00:00", "2026-06-21 00:00"]),
        # `?` is `*`: Mondays only.
        ("0 0 ? * mon", "UTC", "2026-05-31 00:00", ["2026-06-01 00:00", "2026-06-08 00:00"]),
        # `1/2` runs to 6 (Saturday), never 7: Monday, Wednesday, Friday.
        ("0 0 * * 1/2", "UTC", "2026-06-05 12:00",
         ["2026-06-08 00:00", "2026-06-10 00:00", "2026-06-12 00:00", "2026-06-15 00:00"]),
        # `a-a/n` is a, as in CronJob (cronsim alone would read a/n).
        ("5-5/20 3 * * *", "UTC", "2026-06-01 00:00", ["2026-06-01 03:05", "2026-06-02 03:05"]),
    ],
)  # fmt: skip
def test_slots(expression: str, zone: str, after: str, expected: list[str]) -> None:
    assert slots(expression, zone, after, len(expected)) == expected


@pytest.mark.parametrize(
    ("expression", "zone", "day", "count"),
    [
        ("30 2 * * *", "Europe/Berlin", "2026-03-29", 1),
        ("30 2 * * *", "Europe/Berlin", "2026-10-25", 1),
        ("0 * * * *", "Europe/Berlin", "2026-03-29", 23),
        ("0 * * * *", "Europe/Berlin", "2026-10-25", 25),
        ("*/30 * * * *", "Europe/Berlin", "2026-03-29", 46),
        ("*/30 * * * *", "Europe/Berlin", "2026-10-25", 50),
        ("0 1-3 * * *", "Europe/Berlin", "2026-03-29", 2),
        ("0 1-3 * * *", "Europe/Berlin", "2026-10-25", 3),
        ("30 1 * * *", "America/New_York", "2026-11-01", 1),
        ("0 * * * *", "America/New_York", "2026-03-08", 23),
        ("0 * * * *", "America/New_York", "2026-11-01", 25),
        ("0 1-3 * * *", "America/New_York", "2026-11-01", 3),
        # Fixed minutes in the skipped or repeated hour: once after the jump, once in autumn.
        ("0,15,30,45 2 * * *", "Europe/Berlin", "2026-03-29", 1),
        ("0,15,30,45 2 * * *", "Europe/Berlin", "2026-10-25", 4),
        # A wildcard minute follows real time: the hour is skipped, or happens twice.
        ("*/15 2 * * *", "Europe/Berlin", "2026-03-29", 0),
        ("*/15 2 * * *", "Europe/Berlin", "2026-10-25", 8),
    ],
)
def test_slots_on_daylight_saving_days(expression: str, zone: str, day: str, count: int) -> None:
    assert slots_on(expression, zone, day) == count


def test_next_after_is_strictly_after() -> None:
    cron = parse_cron("0 3 * * *", "UTC")
    assert cron.next_after(utc("2026-06-01 03:00")) == utc("2026-06-02 03:00")
    assert cron.next_after(utc("2026-06-01 02:59:59.999")) == utc("2026-06-01 03:00")
    berlin = ZoneInfo("Europe/Berlin")
    assert cron.next_after(datetime(2026, 6, 1, 4, 59, tzinfo=berlin)) == utc("2026-06-01 03:00")
    assert cron.next_after(datetime(2026, 6, 1, 5, 0, tzinfo=berlin)) == utc("2026-06-02 03:00")
    assert cron.next_after(datetime(2026, 6, 1, 5, 0, tzinfo=berlin)).tzinfo is UTC


def test_inside_the_repeated_hour_the_earlier_occurrence_is_not_after() -> None:
    """02:10 CET is after 02:30 CEST: the next slot is the next day's."""
    cron = parse_cron("30 2 * * *", "Europe/Berlin")
    assert cron.next_after(utc("2026-10-25 01:10")) == utc("2026-10-26 01:30")


def test_naive_moments_are_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        parse_cron("0 3 * * *", "UTC").next_after(datetime(2026, 6, 1))


@pytest.mark.parametrize(
    ("expression", "zone", "interval"),
    [
        ("* * * * *", "UTC", timedelta(minutes=1)),
        ("*/15 * * * *", "Europe/Berlin", timedelta(minutes=15)),
        ("0 * * * *", "America/New_York", timedelta(hours=1)),
        ("0 3 * * *", "UTC", timedelta(days=1)),
        ("0 0 * * 1-5", "UTC", timedelta(days=1)),
        # the day of the spring-forward jump is 23 hours long
        ("30 2 * * *", "Europe/Berlin", timedelta(hours=23, minutes=30)),
        ("@daily", "Europe/Berlin", timedelta(hours=23)),
        ("@weekly", "America/New_York", timedelta(days=6, hours=23)),
        ("0 0 * * *", "Australia/Lord_Howe", timedelta(hours=23, minutes=30)),
        # 01:50 CET, then 02:50 (skipped) at 03:00 CEST
        ("50 1,2 * * *", "Europe/Berlin", timedelta(minutes=10)),
        # 02:00 CEST and 02:00 CET
        ("0 */2 * * *", "Europe/Berlin", timedelta(hours=1)),
        ("0 0 31 * *", "UTC", timedelta(days=31)),
        ("@monthly", "UTC", timedelta(days=28)),
        ("@yearly", "UTC", timedelta(days=365)),
        ("0 0 29 2 *", "UTC", timedelta(days=4 * 365 + 1)),
    ],
)
def test_interval_is_the_shortest_gap(expression: str, zone: str, interval: timedelta) -> None:
    assert parse_cron(expression, zone).interval() == interval


def test_a_cron_is_a_value() -> None:
    assert parse_cron("0 3 * * *", "UTC") == parse_cron("0 3 * * *", "UTC")
    assert parse_cron("0 3 * * *", "UTC") != parse_cron("0 3 * * *", "Europe/Berlin")
    assert parse_cron("@daily", "UTC").zone == ZoneInfo("UTC")
