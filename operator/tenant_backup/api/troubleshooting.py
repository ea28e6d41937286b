"""Generate docs/troubleshooting.md from the reasons and their guides (`make docs`); with
`--check`, fail when the committed file differs (`make lint`)."""

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from tenant_backup.api.reason_guide import ALERTS, GUIDES, Guide
from tenant_backup.api.reasons import (
    PERMANENT,
    DeletionReason,
    FollowUpReason,
    Reason,
    RestoreReason,
    ScheduleReason,
    SizeReason,
    VerificationReason,
    VerifiedReason,
)

PROGRESS = (
    Reason.CREATED,
    Reason.JOB_CREATED,
    Reason.RETRY_SCHEDULED,
    Reason.QUEUED,
    Reason.SUCCEEDED,
)

INTRO = """\
# Troubleshooting: every reason, its cause and its fix

<!-- Generated from operator/tenant_backup/api/reason_guide.py by `make docs`. Do not edit. -->

Every reason the operator writes, in `status.reason` of a TenantBackup or TenantRestore (and
each attempt in `status.attemptHistory`), in a condition's `reason`, or as an Event's reason.
Start from the object: `kubectl get tb,tr,tbs -n NS`, then `kubectl describe` it (its
conditions and Events), then the attempt's Job and pod (`kubectl logs job/NAME-N`). A failed
TenantBackup or TenantRestore is never retried: fix the cause and create a new one (a schedule
creates the next run itself).
"""


ALERTS_ABOUT = """\
The chart's PrometheusRule (`metrics.prometheusRule.enabled`); each alert's `runbook_url` points
here. Thresholds are values under `metrics.prometheusRule` (README, "Alerts")."""


@dataclass(frozen=True)
class Section:
    """One heading of the page: its reasons and what they have in common."""

    title: str
    about: str
    reasons: tuple[StrEnum, ...]


def _members(*enums: type[StrEnum]) -> tuple[StrEnum, ...]:
    return tuple(member for enum in enums for member in enum)


SECTIONS = (
    Section(
        "Progress",
        "`status.reason` while a backup or restore is on its way, and at its success.",
        PROGRESS,
    ),
    Section(
        "Permanent failures",
        "`status.reason` of a Failed backup or restore: retrying cannot help, so the first such "
        "failure ends it (kstatus: Failed, `Stalled=True`; Argo CD: Degraded).",
        tuple(r for r in Reason if r in PERMANENT),
    ),
    Section(
        "Transient failures",
        "An attempt's reason; the next attempt follows after a backoff (`RetryScheduled`), up to "
        "`retry.maxAttempts`, after which the object is Failed with the last attempt's reason.",
        tuple(r for r in Reason if r not in PERMANENT and r not in PROGRESS),
    ),
    Section(
        "Verified, RestoreVerified and SizeAnomaly conditions of a TenantBackup",
        "How the artifact was read back, what the newest Verify restore found, and whether its "
        "size is in line.",
        _members(VerifiedReason, VerificationReason, SizeReason),
    ),
    Section(
        "Restore Events",
        "Events of a TenantRestore besides its attempts'.",
        _members(RestoreReason),
    ),
    Section(
        "Schedules",
        "A TenantBackupSchedule's `Ready` condition and its Events.",
        _members(ScheduleReason),
    ),
    Section(
        "History and notifications",
        "The `HistoryRecorded` and `Notified` conditions and their Events.",
        _members(FollowUpReason),
    ),
    Section(
        "Deleting a backup's artifact",
        "`status.deletion.reason` and Events while a TenantBackup is being deleted.",
        _members(DeletionReason),
    ),
)


def render() -> str:
    """The page; a reason without a guide, or in no section, raises ValueError."""
    listed = [reason for section in SECTIONS for reason in section.reasons]
    missing = [str(r) for r in listed if r not in GUIDES]
    unlisted = [str(r) for r in GUIDES if r not in listed]
    if missing or unlisted:
        raise ValueError(f"reasons without a guide: {missing}; in no section: {unlisted}")
    return INTRO + "".join(_section(section) for section in SECTIONS) + _alerts()


def _section(section: Section) -> str:
    entries = "".join(_entry(reason.value, GUIDES[reason]) for reason in section.reasons)
    return f"\n## {section.title}\n\n{section.about}\n{entries}"


def _alerts() -> str:
    entries = "".join(_entry(name, ALERTS[name]) for name in ALERTS)
    return f"\n## Alerts\n\n{ALERTS_ABOUT}\n{entries}"


def _entry(name: str, guide: Guide) -> str:
    lines: Iterable[str] = (
        f"\n### {name}\n\n",
        f"- **Cause**: {guide.cause}\n",
        f"- **Fix**: {guide.fix}\n" if guide.fix else "",
    )
    return "".join(lines)


def main(argv: list[str]) -> int:
    """`troubleshooting PATH` writes the page; `troubleshooting --check PATH` compares."""
    check = argv[:1] == ["--check"]
    path = Path(argv[-1])
    page = render()
    if not check:
        path.write_text(page)
        return 0
    if path.exists() and path.read_text() == page:
        return 0
    print(f"{path} drifted from api/reason_guide.py: run `make docs`", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
