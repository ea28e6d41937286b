"""Retention of scheduled backups: restic forget's rules, the floors on top, and durations."""

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from tenant_backup.api.attempts import Phase
from tenant_backup.api.crd import structural_schema
from tenant_backup.api.durations import DURATION_PATTERN, Duration
from tenant_backup.api.retention import RetentionPolicy
from tenant_backup.schedule.retention import NOT_KEPT, Candidate, Decision, decide, next_to_go

BERLIN = ZoneInfo("Europe/Berlin")
UTC_ZONE = ZoneInfo("UTC")


def policy(**rules: Any) -> RetentionPolicy:
    return RetentionPolicy.model_validate(rules)


def success(name: str, when: datetime, **flags: bool) -> Candidate:
    return Candidate(name, when, Phase.SUCCEEDED, **flags)


def failure(name: str, when: datetime, **flags: bool) -> Candidate:
    return Candidate(name, when, Phase.FAILED, **flags)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def berlin(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def kept(decision: Decision) -> list[str]:
    return [entry.name for entry in decision.kept]


def pruned(decision: Decision) -> list[str]:
    return [entry.name for entry in decision.pruned]


def reasons(decision: Decision) -> dict[str, tuple[str, ...]]:
    return {entry.name: entry.reasons for entry in decision.kept}


# -- restic's documented examples --------------------------------------------------------

# "Removing snapshots according to a policy": one backup every Sunday for 12 weeks.
SUNDAYS = [
    "2019-09-01",
    "2019-09-08",
    "2019-09-15",
    "2019-09-22",
    "2019-09-29",
    "2019-10-06",
    "2019-10-13",
    "2019-10-20",
    "2019-10-27",
    "2019-11-03",
    "2019-11-10",
    "2019-11-17",
]


def sunday_backups() -> list[Candidate]:
    return [success(day, utc(f"{day} 11:00:00")) for day in SUNDAYS]


@pytest.mark.parametrize(
    ("rules", "expected_kept"),
    [
        # restic's documented result: the last four Sundays stay, the other eight go.
        ({"keepDaily": 4}, SUNDAYS[-4:]),
        # One per week too: the same four.
        ({"keepWeekly": 4}, SUNDAYS[-4:]),
        ({"keepLast": 4}, SUNDAYS[-4:]),
        # September, October and November each keep their last Sunday.
        ({"keepMonthly": 3}, ["2019-09-29", "2019-10-27", "2019-11-17"]),
        # Rules are ORed: the union of the last two and the months' last Sundays.
        (
            {"keepLast": 2, "keepMonthly": 2},
            ["2019-10-27", "2019-11-10", "2019-11-17"],
        ),
        # Fewer periods than asked: one per month plus the oldest (restic 0.17's "oldest").
        ({"keepMonthly": 6}, ["2019-09-01", "2019-09-29", "2019-10-27", "2019-11-17"]),
        ({"keepYearly": 2}, ["2019-09-01", "2019-11-17"]),
        # Strictly after newest - 3w: 2019-10-27 is exactly 21 days before, so it goes.
        ({"keepWithin": "3w"}, SUNDAYS[-3:]),
        ({"keepWithin": "1mo"}, SUNDAYS[-5:]),
    ],
)
def test_restic_documented_sundays(rules: dict[str, Any], expected_kept: list[str]) -> None:
    decision = decide(policy(**rules), sunday_backups(), UTC_ZONE)
    assert sorted(kept(decision)) == expected_kept
    assert sorted(pruned(decision)) == sorted(set(SUNDAYS) - set(expected_kept))
    assert all(entry.reason == NOT_KEPT for entry in decision.pruned)


def test_restic_documented_reasons_for_keep_daily_4() -> None:
    decision = decide(policy(keepDaily=4), sunday_backups(), UTC_ZONE)
    assert reasons(decision) == {
        "2019-11-17": ("daily 2019-11-17", "newest success", "newest unflagged success"),
        "2019-11-10": ("daily 2019-11-10",),
        "2019-11-03": ("daily 2019-11-03",),
        "2019-10-27": ("daily 2019-10-27",),
    }
    assert kept(decision) == ["2019-11-17", "2019-11-10", "2019-11-03", "2019-10-27"]


def test_restic_documented_century_of_daily_backups() -> None:
    """One backup a day for 100 years with --keep-daily 7 --keep-weekly 5 --keep-monthly 12
    --keep-yearly 75: 7 dailies, 4 more weeklies, then monthlies and yearlies that are not
    already kept."""
    last = datetime(2019, 11, 17, 11, tzinfo=UTC)  # a Sunday
    backups = [success(f"b{n}", last - timedelta(days=n)) for n in range(36525)]
    rules = policy(keepDaily=7, keepWeekly=5, keepMonthly=12, keepYearly=75)
    decision = decide(rules, backups, UTC_ZONE)

    by_rule = {
        rule: [e.name for e in decision.kept if any(r.startswith(rule) for r in e.reasons)]
        for rule in ("daily", "weekly", "monthly", "yearly")
    }
    assert [len(names) for names in by_rule.values()] == [7, 5, 12, 75]
    assert by_rule["daily"] == [f"b{n}" for n in range(7)]  # Monday 11th to Sunday 17th
    assert len(set(by_rule["weekly"]) - set(by_rule["daily"])) == 4
    assert len(set(by_rule["monthly"]) - set(by_rule["daily"]) - set(by_rule["weekly"])) == 11
    older = set(by_rule["yearly"]) - set(by_rule["monthly"]) - set(by_rule["daily"])
    assert len(older) == 73  # 2019 is a daily, 2018-12-31 a monthly
    assert len(decision.kept) == 7 + 4 + 11 + 73
    assert by_rule["yearly"][-1] == "b" + str((last.date() - datetime(1945, 12, 31).date()).days)


# -- counting --------------------------------------------------------------------------


def test_only_successes_count_and_failures_never_push_them_out() -> None:
    day = utc("2026-11-20 02:00")
    backups = [
        success("s1", day),
        failure("f1", day + timedelta(days=1)),
        success("s2", day + timedelta(days=2)),
        failure("f2", day + timedelta(days=3)),
        failure("f3", day + timedelta(days=4)),
    ]
    decision = decide(policy(keepLast=2, failedHistoryLimit=0), backups, UTC_ZONE)
    assert kept(decision) == ["s2", "s1"]
    assert reasons(decision)["s1"] == ("last 2",)
    assert pruned(decision) == ["f3", "f2", "f1"]


def test_too_few_periods_keeps_the_oldest_too() -> None:
    backups = [
        success(name, berlin(when))
        for name, when in [
            ("sat-early", "2026-11-28 01:00"),
            ("sat-late", "2026-11-28 13:00"),
            ("sun-early", "2026-11-29 01:00"),
            ("sun-late", "2026-11-29 13:00"),
            ("mon-early", "2026-11-30 01:00"),
            ("mon-late", "2026-11-30 13:00"),
        ]
    ]
    decision = decide(policy(keepDaily=7), backups, BERLIN)
    assert reasons(decision)["sat-early"] == ("oldest daily 2026-11-28",)
    assert pruned(decision) == ["mon-early", "sun-early"]
    # A rule that runs out of count before the oldest keeps no oldest.
    assert "sat-early" in pruned(decide(policy(keepDaily=3), backups, BERLIN))


def test_one_backup_answers_several_rules() -> None:
    backups = [success("only", berlin("2026-12-01 02:00"))]
    decision = decide(
        policy(keepLast=1, keepHourly=1, keepDaily=1, keepWeekly=1, keepMonthly=1, keepYearly=1),
        backups,
        BERLIN,
    )
    assert reasons(decision)["only"] == (
        "last 1",
        "hourly 2026-12-01T02+01:00",
        "daily 2026-12-01",
        "weekly 2026-W49",
        "monthly 2026-12",
        "yearly 2026",
        "newest success",
        "newest unflagged success",
    )


# -- time zones, DST, month ends -------------------------------------------------------


@pytest.mark.parametrize(
    ("sunday_night", "monday_night", "week_before", "weeks"),
    [
        # Clocks go forward on Sunday 29 March 2026: Berlin is UTC+2 by Sunday night.
        ("2026-03-29 21:30", "2026-03-29 22:30", "2026-03-18 12:00", ("W13", "W14")),
        # Clocks go back on Sunday 25 October 2026: Berlin is UTC+1 again by Sunday night.
        ("2026-10-25 22:30", "2026-10-25 23:30", "2026-10-14 12:00", ("W43", "W44")),
    ],
)
def test_weeks_end_on_sunday_midnight_of_the_zone_in_dst_weeks(
    sunday_night: str, monday_night: str, week_before: str, weeks: tuple[str, str]
) -> None:
    saturday = utc(sunday_night) - timedelta(days=1)
    backups = [
        success("week-before", utc(week_before)),
        success("saturday", saturday),
        success("sunday-23:30-local", utc(sunday_night)),
        success("monday-00:30-local", utc(monday_night)),
    ]
    in_berlin = decide(policy(keepWeekly=2), backups, BERLIN)
    assert kept(in_berlin) == ["monday-00:30-local", "sunday-23:30-local"]
    year = sunday_night[:4]
    assert reasons(in_berlin)["sunday-23:30-local"] == (f"weekly {year}-{weeks[0]}",)
    assert reasons(in_berlin)["monday-00:30-local"][0] == f"weekly {year}-{weeks[1]}"
    # In UTC the same four backups fall in other weeks: the zone decides.
    assert kept(decide(policy(keepWeekly=2), backups, UTC_ZONE)) == [
        "monday-00:30-local",
        "week-before",
    ]


def test_the_25_hour_day_is_one_day() -> None:
    backups = [
        success("00:30-cest", berlin("2026-10-25 00:30")),
        success("23:30-cet", berlin("2026-10-25 23:30")),
        success("yesterday", berlin("2026-10-24 12:00")),
    ]
    elapsed = berlin("2026-10-25 23:30").astimezone(UTC) - berlin("2026-10-25 00:30")
    assert elapsed == timedelta(hours=24)
    decision = decide(policy(keepDaily=2), backups, BERLIN)
    assert kept(decision) == ["23:30-cet", "yesterday"]
    assert pruned(decision) == ["00:30-cest"]


def test_the_repeated_hour_counts_as_two_hours() -> None:
    backups = [
        success(name, utc(when))
        for name, when in [
            ("01:30-cest", "2026-10-24 23:30"),
            ("02:10-cest", "2026-10-25 00:10"),
            ("02:40-cest", "2026-10-25 00:40"),
            ("02:10-cet", "2026-10-25 01:10"),
            ("02:40-cet", "2026-10-25 01:40"),
            ("03:10-cet", "2026-10-25 02:10"),
        ]
    ]
    decision = decide(policy(keepHourly=3), backups, BERLIN)
    assert kept(decision) == ["03:10-cet", "02:40-cet", "02:40-cest"]
    assert reasons(decision)["02:40-cet"] == ("hourly 2026-10-25T02+01:00",)
    assert reasons(decision)["02:40-cest"] == ("hourly 2026-10-25T02+02:00",)


def test_month_ends_and_the_leap_day_in_the_zone() -> None:
    backups = [
        success("jan-31", berlin("2028-01-31 23:30")),
        success("feb-29-late", berlin("2028-02-29 23:30")),  # 22:30 UTC: still February
        success("feb-29-early", berlin("2028-02-29 00:30")),  # 23:30 UTC on 28 February
        success("mar-31-late", berlin("2028-03-31 23:30")),  # 21:30 UTC
        success("apr-01-early", berlin("2028-04-01 00:30")),  # 22:30 UTC on 31 March
    ]
    decision = decide(policy(keepMonthly=3), backups, BERLIN)
    assert kept(decision) == ["apr-01-early", "mar-31-late", "feb-29-late"]
    assert reasons(decision)["feb-29-late"] == ("monthly 2028-02",)
    daily = decide(policy(keepDaily=3), backups, BERLIN)
    assert kept(daily) == ["apr-01-early", "mar-31-late", "feb-29-late"]
    assert reasons(daily)["feb-29-late"] == ("daily 2028-02-29",)
    in_utc = decide(policy(keepMonthly=3), backups, UTC_ZONE)
    assert kept(in_utc) == ["apr-01-early", "feb-29-late", "jan-31"]


# -- keepWithin ------------------------------------------------------------------------


def test_keep_within_counts_calendar_months_from_the_newest_success() -> None:
    backups = [
        success("newest", berlin("2026-03-31 12:00")),
        success("feb-28-12:01", berlin("2026-02-28 12:01")),
        success("feb-28-12:00", berlin("2026-02-28 12:00")),  # exactly 1mo before: goes
        success("feb-27", berlin("2026-02-27 12:00")),
        failure("failed-later", berlin("2026-04-30 12:00")),  # moves nothing
    ]
    decision = decide(policy(keepWithin="1mo"), backups, BERLIN)
    assert kept(decision) == ["failed-later", "newest", "feb-28-12:01"]
    assert reasons(decision)["feb-28-12:01"] == ("within 1mo",)
    assert pruned(decision) == ["feb-28-12:00", "feb-27"]


def test_keep_within_a_year_of_a_leap_day() -> None:
    backups = [
        success("leap-day", berlin("2028-02-29 03:00")),
        success("a-year-and-a-minute", berlin("2027-02-28 03:01")),
        success("a-year", berlin("2027-02-28 03:00")),
    ]
    decision = decide(policy(keepWithin="1y"), backups, BERLIN)
    assert kept(decision) == ["leap-day", "a-year-and-a-minute"]


def test_keep_within_fixed_days_are_elapsed_time_across_dst() -> None:
    newest = berlin("2026-03-29 12:00")  # CEST, the day clocks went forward
    backups = [
        success("newest", newest),
        success("23h-before", berlin("2026-03-28 13:00")),  # wall clock 23h, elapsed 22h
        success("24h-before", berlin("2026-03-28 11:00")),
    ]
    assert newest - timedelta(hours=24) == berlin("2026-03-28 12:00")  # wall clock, not elapsed
    decision = decide(policy(keepWithin="1d"), backups, BERLIN)
    assert kept(decision) == ["newest", "23h-before"]


# -- the floors ------------------------------------------------------------------------


def failing_week() -> list[Candidate]:
    good = success("good", utc("2026-11-01 02:00"))
    return [good] + [failure(f"f{n}", utc(f"2026-11-{n + 1:02d} 02:00")) for n in range(1, 8)]


@pytest.mark.parametrize(
    "rules",
    [
        {"keepWithin": "1h"},
        {"keepLast": 1},
        {"keepDaily": 1},
        {"keepYearly": 1},
        {"keepLast": 3, "failedHistoryLimit": 0},
    ],
)
def test_the_newest_success_stays_when_every_recent_run_failed(rules: dict[str, Any]) -> None:
    rules = {"failedHistoryLimit": 1} | rules
    decision = decide(policy(**rules), failing_week(), UTC_ZONE)
    assert "newest success" in reasons(decision)["good"]
    assert "good" not in pruned(decision)
    limit = rules["failedHistoryLimit"]
    assert pruned(decision) == [f"f{n}" for n in range(7 - limit, 0, -1)]


def test_the_newest_success_stays_even_when_retained_ones_are_newer() -> None:
    backups = [
        success("old-retained", utc("2026-11-01 02:00"), retained=True),
        success("counted", utc("2026-11-02 02:00")),
        success("new-retained", utc("2026-11-03 02:00"), retained=True),
    ]
    decision = decide(policy(keepLast=1), backups, UTC_ZONE)
    assert reasons(decision) == {
        "new-retained": ("newest success", "newest unflagged success", "retain label"),
        "counted": ("last 1",),
        "old-retained": ("retain label",),
    }


def test_flagged_runs_never_push_out_the_newest_unflagged_success() -> None:
    day = utc("2026-11-01 02:00")
    backups = [
        success("unflagged-old", day),
        success("unflagged", day + timedelta(days=1)),
        *(success(f"flagged{n}", day + timedelta(days=1 + n), flagged=True) for n in range(1, 4)),
    ]
    decision = decide(policy(keepLast=2), backups, UTC_ZONE)
    assert kept(decision) == ["flagged3", "flagged2", "unflagged"]
    assert reasons(decision)["unflagged"] == ("newest unflagged success",)
    assert reasons(decision)["flagged3"] == ("last 1", "newest success")
    assert pruned(decision) == ["flagged1", "unflagged-old"]


def test_retained_ones_stay_and_are_not_counted() -> None:
    day = utc("2026-11-01 02:00")
    backups = [
        success("ancient-retained", day - timedelta(days=400), retained=True),
        success("s1", day),
        success("s2", day + timedelta(days=1)),
        success("s3-retained", day + timedelta(days=2), retained=True),
        success("s4", day + timedelta(days=3)),
        failure("failed-retained", day + timedelta(days=4), retained=True),
        failure("failed", day + timedelta(days=5)),
    ]
    decision = decide(policy(keepLast=2), backups, UTC_ZONE)
    assert kept(decision) == [
        "failed",
        "failed-retained",
        "s4",
        "s3-retained",
        "s2",
        "ancient-retained",
    ]
    assert reasons(decision)["s2"] == ("last 2",)
    assert reasons(decision)["failed"] == ("failed history",)
    assert reasons(decision)["failed-retained"] == ("retain label",)
    assert pruned(decision) == ["s1"]


@pytest.mark.parametrize(("limit", "kept_failures"), [(0, 0), (1, 1), (3, 3)])
def test_failed_history_limit(limit: int, kept_failures: int) -> None:
    day = utc("2026-11-01 02:00")
    failures = [failure(f"f{n}", day + timedelta(hours=n)) for n in range(1, 6)]
    decision = decide(
        policy(keepLast=1, failedHistoryLimit=limit),
        [success("s", day), *failures],
        UTC_ZONE,
    )
    newest_first = [f"f{n}" for n in range(5, 0, -1)]
    assert kept(decision) == [*newest_first[:kept_failures], "s"]
    assert all(reasons(decision)[name] == ("failed history",) for name in newest_first[:limit])
    assert pruned(decision) == newest_first[kept_failures:]
    assert {entry.reason for entry in decision.pruned} == {
        f"failed beyond failedHistoryLimit {limit}"
    }


# -- blocking, dry runs, deletions -----------------------------------------------------


def history() -> list[Candidate]:
    day = utc("2026-11-01 02:00")
    return [success(f"s{n}", day + timedelta(days=n)) for n in range(5)]


@pytest.mark.parametrize("phase", [None, Phase.PENDING, Phase.RUNNING])
def test_an_unfinished_backup_blocks_every_deletion(phase: Phase | None) -> None:
    running = Candidate("now", utc("2026-11-06 02:00"), phase)
    decision = decide(policy(keepLast=2), [*history(), running], UTC_ZONE)
    assert decision.blocked is not None
    assert "now" in decision.blocked
    assert (phase.value if phase else "not started") in decision.blocked
    assert reasons(decision)["now"] == ("unfinished",)
    assert pruned(decision) == ["s2", "s1", "s0"]  # shown, not deleted
    assert decision.deletions == ()


def test_deletions_when_nothing_is_unfinished_and_none_in_a_dry_run() -> None:
    decision = decide(policy(keepLast=2), history(), UTC_ZONE)
    assert decision.blocked is None
    assert decision.deletions == ("s2", "s1", "s0")
    dry = decide(policy(keepLast=2, dryRun=True), history(), UTC_ZONE)
    assert pruned(dry) == ["s2", "s1", "s0"]
    assert dry.deletions == ()


def test_no_backups_nothing_to_do() -> None:
    decision = decide(policy(keepLast=1), [], BERLIN)
    assert decision == Decision((), (), None, False)


def test_candidate_times_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        Candidate("naive", datetime(2026, 11, 1), Phase.SUCCEEDED)


# -- next to go ------------------------------------------------------------------------


def test_next_to_go_with_keep_last() -> None:
    rules = policy(keepLast=3)
    backups = [*history(), failure("failed", utc("2026-11-05 03:00"))]
    assert next_to_go(rules, backups, UTC_ZONE, utc("2026-11-06 02:00")) == ["s2"]


def test_next_to_go_with_keep_daily_depends_on_when_the_next_one_comes() -> None:
    rules = policy(keepDaily=3)
    tomorrow = utc("2026-11-06 02:00")
    assert next_to_go(rules, history(), UTC_ZONE, tomorrow) == ["s2"]
    # A second backup today replaces today's in its day.
    later_today = utc("2026-11-05 14:00")
    assert next_to_go(rules, history(), UTC_ZONE, later_today) == ["s4"]


def test_next_to_go_names_only_what_the_rules_and_floors_release() -> None:
    day = utc("2026-11-01 02:00")
    backups = [
        success("retained", day - timedelta(days=1), retained=True),
        success("unflagged", day),
        success("flagged", day + timedelta(days=1), flagged=True),
        failure("failed", day + timedelta(days=2)),
    ]
    rules = policy(keepLast=1)
    assert kept(decide(rules, backups, UTC_ZONE)) == ["failed", "flagged", "unflagged", "retained"]
    # The next success is assumed unflagged: it releases the flagged one and the one the
    # newest-unflagged floor held.
    assert next_to_go(rules, backups, UTC_ZONE, day + timedelta(days=3)) == [
        "flagged",
        "unflagged",
    ]


# -- speed -----------------------------------------------------------------------------


def test_500_tenants_of_30_backups_decide_well_under_a_second() -> None:
    rules = policy(keepLast=3, keepDaily=7, keepWeekly=4, keepMonthly=6, keepWithin="3d")
    start = utc("2026-10-10 02:00")
    tenants = [
        [
            Candidate(
                f"t{tenant}-{n}",
                start + timedelta(days=n, minutes=tenant),
                Phase.FAILED if n % 7 == 3 else Phase.SUCCEEDED,
                flagged=n % 11 == 5,
            )
            for n in range(30)
        ]
        for tenant in range(500)
    ]
    began = time.perf_counter()
    decisions = [decide(rules, backups, BERLIN) for backups in tenants]
    elapsed = time.perf_counter() - began
    assert all(decision.pruned for decision in decisions)
    assert elapsed < 0.5, f"{elapsed:.3f}s"


# -- the API model ---------------------------------------------------------------------


def test_an_empty_policy_is_refused_by_the_model_and_the_schema() -> None:
    with pytest.raises(ValidationError, match="at least one keep rule"):
        RetentionPolicy.model_validate({"failedHistoryLimit": 3, "dryRun": True})
    schema = structural_schema(RetentionPolicy)
    [rule] = schema["x-kubernetes-validations"]
    assert rule["message"].startswith("retention needs at least one keep rule")
    fields = ["keepLast", "keepHourly", "keepDaily", "keepWeekly", "keepMonthly", "keepYearly"]
    assert rule["rule"] == " || ".join(f"has(self.{name})" for name in [*fields, "keepWithin"])
    assert set(fields) | {"keepWithin"} < set(schema["properties"])


def test_policy_defaults_and_bounds() -> None:
    rules = policy(keepDaily=7)
    assert (rules.failed_history_limit, rules.dry_run, rules.keep_last) == (1, False, None)
    assert rules.wire() == {"keepDaily": 7, "failedHistoryLimit": 1, "dryRun": False}
    schema = structural_schema(RetentionPolicy)["properties"]
    assert schema["keepLast"]["minimum"] == 1
    assert "default" not in schema["keepLast"]
    assert schema["failedHistoryLimit"] == {
        "default": 1,
        "description": schema["failedHistoryLimit"]["description"],
        "minimum": 0,
        "type": "integer",
    }
    assert schema["keepWithin"]["pattern"] == DURATION_PATTERN
    with pytest.raises(ValidationError, match="keepLast"):
        policy(keepLast=0)
    with pytest.raises(ValidationError, match="failedHistoryLimit"):
        policy(keepLast=1, failedHistoryLimit=-1)
    with pytest.raises(ValidationError, match="keepWithin"):
        policy(keepWithin="7 days")
    assert policy(keepWithin="1y6mo").within == Duration(years=1, months=6)


# -- durations -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "duration", "fixed"),
    [
        ("1y6mo", Duration(years=1, months=6), None),
        ("6mo", Duration(months=6), None),
        ("7d", Duration(days=7), timedelta(days=7)),
        ("36h", Duration(hours=36), timedelta(hours=36)),
        ("1h30m", Duration(hours=1, minutes=30), timedelta(minutes=90)),
        ("2w", Duration(weeks=2), timedelta(days=14)),
        ("90s", Duration(seconds=90), timedelta(seconds=90)),
        ("1y2mo3w4d5h6m7s", Duration(1, 2, 3, 4, 5, 6, 7), None),
        ("999999w", Duration(weeks=999999), timedelta(weeks=999999)),
    ],
)
def test_durations_parse_and_print_back(
    text: str, duration: Duration, fixed: timedelta | None
) -> None:
    assert Duration.parse(text) == duration
    assert str(duration) == text
    assert duration.fixed() == fixed
    assert re.fullmatch(DURATION_PATTERN, text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "d",
        "7",
        "0d",
        "07d",
        "1d1y",
        "1m1mo",
        "1d1d",
        "1.5h",
        "-1d",
        " 1d",
        "1D",
        "1 d",
        "1000000s",
        "1month",
        "1yr",
    ],
)
def test_bad_durations_are_refused_by_parse_and_pattern(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        Duration.parse(text)
    assert text == "" or re.fullmatch(DURATION_PATTERN, text) is None


def test_the_pattern_is_re2_compatible() -> None:
    assert not re.search(r"\(\?[=!<]|\\[1-9]", DURATION_PATTERN)


@pytest.mark.parametrize(
    ("text", "moment", "expected"),
    [
        ("1mo", berlin("2026-03-31 12:00"), berlin("2026-02-28 12:00")),
        ("1mo", berlin("2028-03-31 12:00"), berlin("2028-02-29 12:00")),
        ("1y", berlin("2028-02-29 12:00"), berlin("2027-02-28 12:00")),
        ("1y3mo", berlin("2026-05-31 12:00"), berlin("2025-02-28 12:00")),
        ("2mo", berlin("2026-01-15 12:00"), berlin("2025-11-15 12:00")),
        # Calendar units keep the wall clock across a DST change...
        ("1mo", berlin("2026-04-15 12:00"), berlin("2026-03-15 12:00")),
        # ...fixed ones are elapsed time: 24 hours before noon CEST is 11:00 CET.
        ("1d", berlin("2026-03-29 12:00"), berlin("2026-03-28 11:00")),
        ("1mo1d", berlin("2026-04-29 12:00"), berlin("2026-03-28 11:00")),
        ("1h30m", utc("2026-01-01 00:00"), utc("2025-12-31 22:30")),
    ],
)
def test_duration_before(text: str, moment: datetime, expected: datetime) -> None:
    result = Duration.parse(text).before(moment)
    assert result == expected
    assert result.utcoffset() == expected.utcoffset()


def test_duration_before_the_calendar_begins_is_the_earliest_moment() -> None:
    earliest = datetime.min.replace(tzinfo=UTC)
    assert Duration.parse("999999y").before(berlin("2026-01-01 00:00")) == earliest
    assert Duration.parse("999999w").before(utc("2026-01-01 00:00")) == earliest
    with pytest.raises(ValueError, match="aware"):
        Duration(days=1).before(datetime(2026, 1, 1))
