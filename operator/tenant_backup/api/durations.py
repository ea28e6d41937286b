"""Durations as the schedule writes them: `1y6mo`, `7d`, `36h`, `1h30m`.

Units, largest first and each at most once: `y` years, `mo` months, `w` weeks, `d` days, `h`
hours, `m` minutes (as in Kubernetes), `s` seconds. Years and months are calendar units;
the rest are fixed lengths of time. Plain Python, no third-party imports.
"""

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_UNITS = (
    ("years", "y"),
    ("months", "mo"),
    ("weeks", "w"),
    ("days", "d"),
    ("hours", "h"),
    ("minutes", "m"),
    ("seconds", "s"),
)
# Positive numbers of at most 6 digits without leading zeros, so a text has one spelling and
# every fixed part fits a timedelta. The empty text matches too: fields set minLength 2.
DURATION_PATTERN = "^" + "".join(f"([1-9][0-9]{{0,5}}{unit})?" for _, unit in _UNITS) + "$"
DURATION_MIN_LENGTH = 2
FIXED_DURATION_PATTERN = "^" + "".join(f"([1-9][0-9]{{0,5}}{unit})?" for unit in "hms") + "$"
"""Hours, minutes and seconds only: a duration that is the same length whenever it starts."""
_GRAMMAR = re.compile(DURATION_PATTERN)
_EARLIEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Duration:
    """A span of calendar (years, months) and fixed (weeks to seconds) time."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: int = 0

    @classmethod
    def parse(cls, text: str) -> "Duration":
        """`1y6mo` -> Duration(years=1, months=6); ValueError for anything else."""
        match = _GRAMMAR.fullmatch(text)
        if not text or match is None:
            raise ValueError(
                f"invalid duration {text!r}: expected numbers with units in the order "
                "y (years), mo (months), w, d, h, m (minutes), s, each at most once, "
                "e.g. 1y6mo, 7d, 1h30m"
            )
        groups = zip(match.groups(), _UNITS, strict=True)
        return cls(*(int(group.removesuffix(unit)) if group else 0 for group, (_, unit) in groups))

    def fixed(self) -> timedelta | None:
        """The exact length of time; None when years or months make it calendar-dependent."""
        if self.years or self.months:
            return None
        return self._fixed_part()

    def before(self, moment: datetime) -> datetime:
        """`moment` minus this duration: years and months on `moment`'s own calendar and wall
        clock (the day clamped to the month's end: 31 March - 1mo = 28/29 February), then the
        fixed part as elapsed time. A result before year 1 is the earliest aware datetime."""
        if moment.tzinfo is None:
            raise ValueError("a duration is taken from an aware datetime only")
        try:
            if self.years or self.months:
                moment = _months_before(moment, self.years * 12 + self.months)
            return (moment.astimezone(UTC) - self._fixed_part()).astimezone(moment.tzinfo)
        except (OverflowError, ValueError):
            return _EARLIEST

    def _fixed_part(self) -> timedelta:
        return timedelta(
            weeks=self.weeks,
            days=self.days,
            hours=self.hours,
            minutes=self.minutes,
            seconds=self.seconds,
        )

    def __str__(self) -> str:
        return "".join(
            f"{count}{unit}" for (field, unit) in _UNITS if (count := getattr(self, field))
        )


def _months_before(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)
