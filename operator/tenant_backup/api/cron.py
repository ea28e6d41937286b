"""What the API server checks of a cron schedule and its time zone at admission.

Patterns for the OpenAPI `pattern` (RE2: no lookarounds, no backreferences). They refuse the
common mistakes early (a seconds field, `TZ=` prefixes, unknown macros); the operator's parser
(`schedule/cron.py`) checks the rest (ranges, names) and says what is wrong.
"""

CRON_MACROS: dict[str, str] = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
"""The macros Kubernetes CronJob accepts (without `@every`), as the 5 fields they stand for."""

_CRON_FIELD = r"[0-9A-Za-z*?,/-]+"

SCHEDULE_PATTERN = (
    r"^(@(" + "|".join(name[1:] for name in CRON_MACROS) + r")"
    rf"|[ \t]*{_CRON_FIELD}([ \t]+{_CRON_FIELD}){{4}}[ \t]*)$"
)
"""Exactly 5 whitespace-separated fields of cron characters, or one macro."""

_ZONE_PART = r"[A-Za-z0-9_+][A-Za-z0-9_.+-]{0,13}"

TIME_ZONE_PATTERN = rf"^{_ZONE_PART}(/{_ZONE_PART})*$"
"""An IANA time zone name as Kubernetes CronJob admits it: `/`-separated parts of at most
14 characters, none starting with `.` or `-`."""
