"""Pure: cron schedules as Kubernetes CronJob writes them, timed in an IANA time zone.

The dialect is CronJob's: 5 fields (minute hour day-of-month month day-of-week) of numbers,
`*`, `?` (the same as `*`), ranges `a-b`, steps `/n` (`*/n`, `a-b/n`, `a/n` = `a-max/n`),
lists `a,b`, the names jan-dec and sun-sat (any case), and the macros of `CRON_MACROS`.
Refused with a `CronError`: a seconds field, `TZ=` or `CRON_TZ=` (spec.timeZone names the
zone), `@every`, `@reboot`, the L, W and # extensions, day-of-week 7, values out of range,
and dates that never occur (`0 0 30 2 *`).

Days, as in CronJob: when day-of-month or day-of-week is `*` (or `?`), a day must match
both; when both are restricted, either one (`0 0 1 * mon`: the 1st and every Monday).

Time zones, as Debian cron (cronsim implements its rules):
- fixed-time schedules (neither the minute nor the hour field starts with `*`): a wall-clock
  time skipped by the spring-forward jump runs once, right after the jump (`30 2 * * *` in
  Europe/Berlin runs at 03:00 that day; slots that land on the same instant run once); a
  time the fall-back hour repeats runs once, at its first occurrence (summer time);
- wildcard schedules (the minute or hour field starts with `*`: `0 * * * *`, `*/15 * * * *`,
  `0 */2 * * *`) follow real time: every wall-clock hour that happens, so `0 * * * *` runs 23
  times on spring-forward day and 25 on fall-back day.
Slots are aware UTC datetimes.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import islice, pairwise, takewhile
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim

from tenant_backup.api.cron import CRON_MACROS, TIME_ZONE_PATTERN
from tenant_backup.api.cron import SCHEDULE_PATTERN as SCHEDULE_PATTERN

FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")
_FIELDS_HELP = "minute hour day-of-month month day-of-week"
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_WORD = r"[0-9A-Za-z]+"
_TERM = re.compile(
    rf"(?:(?P<star>[*?])|(?P<low>{_WORD})(?:-(?P<high>{_WORD}))?)(?:/(?P<step>{_WORD}))?"
)
_EXTENSION = re.compile(r".*#.*|l|lw|l-\d+|\d+[lw]", re.IGNORECASE)

# interval(): the slots it compares. Fixed, so that the answer does not change with the date.
_SCAN_START = datetime(2024, 1, 1, tzinfo=UTC)
_SCAN_YEARS = 8  # two leap days (2024, 2028)
_SCAN_SLOTS = 5000
_RESOLUTION = timedelta(minutes=1)


class CronError(ValueError):
    """A schedule or time zone that cannot be used; the message says why, for people."""


@dataclass(frozen=True)
class Cron:
    """A schedule in its time zone. Build it with `parse_cron`."""

    expression: str
    """As written."""
    zone: ZoneInfo
    normalized: str = field(repr=False)
    """The 5 fields cronsim reads: names resolved, `?` as `*`, and the day fields spelled so
    that Debian's rule for `*` days gives CronJob's matching."""

    def slots_after(self, moment: datetime) -> Iterator[datetime]:
        """The slots strictly after `moment` (aware), in order, as UTC datetimes."""
        previous = _utc(moment)
        for local in CronSim(self.normalized, previous.astimezone(self.zone)):
            slot = local.astimezone(UTC)
            # cronsim walks fixed-time schedules on the wall clock: from a moment inside a
            # repeated hour it may first return that hour's earlier occurrence.
            if slot > previous:
                previous = slot
                yield slot

    def next_after(self, moment: datetime) -> datetime:
        """The first slot strictly after `moment` (aware), in UTC."""
        return next(self.slots_after(moment))

    def interval(self) -> timedelta:
        """The shortest gap between consecutive slots, over the 8 years from 2024 (up to
        5000 slots) and around each change of the zone's UTC offset in 2024."""
        return _shortest_gap(self.normalized, self.zone)


def parse_cron(expression: str, time_zone: str) -> Cron:
    """The schedule `expression` in the IANA zone `time_zone`; CronError if either is bad."""
    normalized = _normalize(expression)
    return Cron(expression, _zone(time_zone), normalized)


def _normalize(expression: str) -> str:
    text = expression.strip(" \t")
    if not text:
        raise CronError(
            f"the schedule is empty: write 5 fields ({_FIELDS_HELP}), e.g. "
            '"0 3 * * *", or a macro such as @daily'
        )
    problem = f'schedule "{expression}":'
    if text.upper().startswith(("TZ=", "CRON_TZ=")):
        raise CronError(f"{problem} TZ= and CRON_TZ= are not supported: set spec.timeZone")
    if text.startswith("@"):
        return _macro(expression, problem)
    fields = re.split(r"[ \t]+", text)
    if len(fields) == 6:
        raise CronError(
            f"{problem} 6 fields, but a seconds field is not supported (robfig cron writes "
            f'"0 0 1 * * *" for 01:00, here "0 1 * * *"): write 5 fields, {_FIELDS_HELP}'
        )
    if len(fields) != 5:
        count = f"{len(fields)} field{'s' * (len(fields) > 1)}"
        raise CronError(f"{problem} {count}: write 5, {_FIELDS_HELP}")
    parsed = [_parse_field(index, part, problem) for index, part in enumerate(fields)]
    (days, _), (months, _), (_, weekdays_star) = parsed[2:]
    if weekdays_star and not any(d <= _DAYS_IN_MONTH[m - 1] for d in days for m in months):
        raise CronError(f'{problem} day-of-month "{fields[2]}" never occurs in month "{fields[3]}"')
    return " ".join(
        _spelled(index, values, star, fields[index][0] in "*?")
        for index, (values, star) in enumerate(parsed)
    )


def _macro(expression: str, problem: str) -> str:
    if expression in CRON_MACROS:
        return CRON_MACROS[expression]
    word = expression.strip(" \t").split()[0]
    if word == "@reboot":
        raise CronError(f"{problem} @reboot is not supported: a schedule runs on clock times")
    if word == "@every":
        raise CronError(
            f'{problem} @every is not supported: write 5 fields, e.g. "0 */6 * * *" for '
            "every 6 hours"
        )
    if word in CRON_MACROS:
        raise CronError(f'{problem} write "{word}" alone, without spaces around it')
    raise CronError(f"{problem} unknown macro {word}: use one of {', '.join(CRON_MACROS)}")


def _parse_field(index: int, text: str, problem: str) -> tuple[frozenset[int], bool]:
    """The values of one field, and whether it counts as `*` for day matching (as in
    CronJob: it has a `*` or `?` term without a step above 1)."""
    name = FIELD_NAMES[index]
    low, high = _BOUNDS[index]
    names = {3: _MONTHS, 4: _DAYS}.get(index, ())
    first = 1 if index == 3 else 0

    def value(word: str) -> int:
        if word.isdecimal():
            number = int(word)
        elif word.lower() in names:
            number = names.index(word.lower()) + first
        else:
            raise CronError(f'{problem} {name} "{word}" is not a number{" or name" * bool(names)}')
        if not low <= number <= high:
            sunday = " (Sunday is 0 or sun)" if index == 4 and number == 7 else ""
            raise CronError(f"{problem} {name} {number} is out of range {low}-{high}{sunday}")
        return number

    values: set[int] = set()
    star = False
    for term in text.split(","):
        match = None if _EXTENSION.fullmatch(term) else _TERM.fullmatch(term)
        if match is None:
            raise CronError(f"{problem} {_bad_term(name, term, names)}")
        step_text = match["step"]
        if step_text is not None and not (step_text.isdecimal() and int(step_text) >= 1):
            raise CronError(f'{problem} {name} step "{term}" must be a number of at least 1')
        step = int(step_text or 1)
        if match["star"]:
            start, end = low, high
            star = star or step == 1
        else:
            start = value(match["low"])
            end = value(match["high"]) if match["high"] else high if step_text else start
            if start > end:
                raise CronError(f'{problem} {name} range "{term}" runs backwards')
        values.update(range(start, end + 1, step))
    return frozenset(values), star


def _bad_term(name: str, term: str, names: tuple[str, ...]) -> str:
    if _EXTENSION.fullmatch(term):
        return (
            f'{name} "{term}": the L, W and # extensions are not supported (nor by Kubernetes '
            "CronJob)"
        )
    words = f", names ({names[0]}-{names[-1]})" if names else ""
    return (
        f'{name} "{term}" is not valid: write numbers{words}, *, ranges a-b, steps /n and lists a,b'
    )


def _spelled(index: int, values: frozenset[int], star: bool, starts_with_star: bool) -> str:
    """A field as cronsim reads it, with CronJob's meaning. cronsim decides by the first
    character: for days whether a day must match both fields, for minutes and hours whether
    the schedule follows real time (wildcard) or the wall clock (fixed-time)."""
    listed = ",".join(str(value) for value in sorted(values))
    if index >= 2:
        return "*" if star else listed
    if not starts_with_star:
        return listed
    high = _BOUNDS[index][1]
    # `*/60` is {0}, already in every field that starts with `*`: it keeps the leading `*`.
    return "*" if len(values) == high + 1 else f"*/{high + 1},{listed}"


def _zone(name: str) -> ZoneInfo:
    if re.fullmatch(TIME_ZONE_PATTERN, name) and name.lower() not in ("local", "localtime"):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise CronError(f'unknown time zone "{name}": use an IANA name such as Europe/Berlin or UTC')


def _utc(moment: datetime) -> datetime:
    if moment.utcoffset() is None:
        raise ValueError(f"{moment} has no time zone")
    return moment.astimezone(UTC)


@lru_cache(maxsize=256)
def _shortest_gap(normalized: str, zone: ZoneInfo) -> timedelta:
    cron = Cron(normalized, zone, normalized)
    end = _SCAN_START.replace(year=_SCAN_START.year + _SCAN_YEARS)
    windows = [(_SCAN_START, end)] + [
        (day - timedelta(days=1), day + timedelta(days=2)) for day in _offset_changes(zone)
    ]
    shortest = timedelta.max
    for start, stop in windows:
        slots = islice(cron.slots_after(start), _SCAN_SLOTS)
        for earlier, later in pairwise(takewhile(stop.__ge__, slots)):
            shortest = min(shortest, later - earlier)
            if shortest <= _RESOLUTION:
                return shortest
    return shortest


def _offset_changes(zone: ZoneInfo) -> list[datetime]:
    """The UTC midnights of the days of the scan's first year after which `zone` changes
    its UTC offset (daylight saving time starts or ends)."""
    days = [_SCAN_START + timedelta(days=n) for n in range(367)]
    return [
        day
        for day, following in pairwise(days)
        if day.astimezone(zone).utcoffset() != following.astimezone(zone).utcoffset()
    ]
