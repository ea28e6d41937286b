"""Pure: which of one tenant's scheduled backups stay and which go.

The keep rules are restic forget's (as of restic 0.17):
- only Succeeded backups count; the rules are ORed, one backup may satisfy several;
- `keepLast N` keeps the newest N; `keep<Period> N` keeps the newest backup of each of the
  last N calendar periods that contain one, periods on the wall clock of the schedule's time
  zone, weeks ISO weeks (Monday to Sunday);
- when a rule still has count left at the oldest backup, that oldest backup is kept too
  (`oldest daily ...`): too few backups for the rules keep the longest history;
- `keepWithin` keeps the backups taken strictly after the newest one minus the duration
  (years and months on the calendar of the zone, the rest as elapsed time).
One difference: the hour repeated when clocks go back is two hours here, not one.

On top of restic: the newest Succeeded backup and the newest unflagged one (no size anomaly)
always stay; backups labelled to be retained stay and are not counted by the rules; failed
backups are never counted, the newest `failedHistoryLimit` of them stay; unfinished backups
stay and block every deletion of the tenant's backups until they finish.
"""

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from tenant_backup.api.attempts import Phase
from tenant_backup.api.retention import RetentionPolicy

NOT_KEPT = "not kept by any rule"
_NEXT = "\0next"  # the hypothetical next backup of next_to_go: no object can have this name


@dataclass(frozen=True)
class Candidate:
    """One backup of the tenant, as retention sees it."""

    name: str
    time: datetime
    """When the backup was created (aware)."""
    phase: Phase | None
    """None, Pending and Running: unfinished."""
    retained: bool = False
    """Labelled to be retained: never deleted, not counted by the rules."""
    flagged: bool = False
    """Its artifact shrank suspiciously (a size anomaly)."""

    def __post_init__(self) -> None:
        if self.time.tzinfo is None:
            raise ValueError(f"backup {self.name}: its time must be aware")

    @property
    def unfinished(self) -> bool:
        """Whether the backup may still be writing."""
        return self.phase is None or not self.phase.terminal


@dataclass(frozen=True)
class Kept:
    """A backup that stays, with every reason it does."""

    name: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Pruned:
    """A backup the policy lets go, with why."""

    name: str
    reason: str


@dataclass(frozen=True)
class Decision:
    """The policy applied to one tenant's backups, each list newest first."""

    kept: tuple[Kept, ...]
    pruned: tuple[Pruned, ...]
    """What the policy lets go; deleted only when neither blocked nor a dry run."""
    blocked: str | None
    """Why nothing may be deleted now: a backup of the tenant is unfinished."""
    dry_run: bool

    @property
    def deletions(self) -> tuple[str, ...]:
        """The backups to delete now: none while blocked or in a dry run."""
        if self.blocked is not None or self.dry_run:
            return ()
        return tuple(pruned.name for pruned in self.pruned)


Period = Callable[[datetime, int], Hashable]
"""A backup's period for one rule, from its local time and its rank among the counted."""
Label = Callable[[datetime, int], str]

# Each counting rule: its period and how a reason names it. An hour is a real hour: the
# hour repeated when clocks go back (fold 1) is another hour.
_RULES: tuple[tuple[str, Period, Label], ...] = (
    ("last", lambda _, rank: rank, lambda _, rank: str(rank + 1)),
    (
        "hourly",
        lambda local, _: (local.date(), local.hour, local.fold),
        lambda local, _: local.isoformat(timespec="hours"),
    ),
    ("daily", lambda local, _: local.date(), lambda local, _: local.date().isoformat()),
    (
        "weekly",
        lambda local, _: local.isocalendar()[:2],
        lambda local, _: "{}-W{:02d}".format(*local.isocalendar()[:2]),
    ),
    (
        "monthly",
        lambda local, _: (local.year, local.month),
        lambda local, _: f"{local.year}-{local.month:02d}",
    ),
    ("yearly", lambda local, _: local.year, lambda local, _: str(local.year)),
)


@dataclass
class _Rule:
    """One counting keep rule while the backups are walked, newest first."""

    name: str
    left: int
    period: Period
    label: Label
    seen: set[Hashable] = field(default_factory=set)


def _rules(policy: RetentionPolicy) -> list[_Rule]:
    counts = (getattr(policy, f"keep_{name}") for name, _, _ in _RULES)
    return [
        _Rule(name, count, period, label)
        for (name, period, label), count in zip(_RULES, counts, strict=True)
        if count is not None
    ]


def _newest_first(backups: Sequence[Candidate]) -> list[Candidate]:
    return sorted(backups, key=lambda backup: (backup.time, backup.name), reverse=True)


def _by_rules(
    policy: RetentionPolicy, counted: list[Candidate], zone: ZoneInfo
) -> dict[str, list[str]]:
    """restic's keep rules over the counted backups (newest first): reasons by name."""
    reasons: dict[str, list[str]] = {}
    if not counted:
        return reasons
    within = policy.within
    cutoff = within.before(counted[0].time.astimezone(zone)) if within else None
    rules = _rules(policy)
    oldest = len(counted) - 1
    for rank, backup in enumerate(counted):
        why: list[str] = []
        if cutoff is not None and backup.time > cutoff:
            why.append(f"within {within}")
        local = backup.time.astimezone(zone)
        for rule in rules:
            if not rule.left:
                continue
            key = rule.period(local, rank)
            if key not in rule.seen:
                why.append(f"{rule.name} {rule.label(local, rank)}")
            elif rank == oldest:
                why.append(f"oldest {rule.name} {rule.label(local, rank)}")
            else:
                continue
            rule.seen.add(key)
            rule.left -= 1
        if why:
            reasons[backup.name] = why
    return reasons


def decide(policy: RetentionPolicy, backups: Sequence[Candidate], zone: ZoneInfo) -> Decision:
    """Apply `policy` to one tenant's backups, periods in `zone`."""
    ordered = _newest_first(backups)
    succeeded = [backup for backup in ordered if backup.phase is Phase.SUCCEEDED]
    reasons = _by_rules(policy, [backup for backup in succeeded if not backup.retained], zone)

    def keep(name: str, reason: str) -> None:
        reasons.setdefault(name, []).append(reason)

    if succeeded:
        keep(succeeded[0].name, "newest success")
    unflagged = next((backup for backup in succeeded if not backup.flagged), None)
    if unflagged is not None:
        keep(unflagged.name, "newest unflagged success")
    failed = [b for b in ordered if b.phase is Phase.FAILED and not b.retained]
    for backup in failed[: policy.failed_history_limit]:
        keep(backup.name, "failed history")
    unfinished = [backup for backup in ordered if backup.unfinished]
    for backup in ordered:
        if backup.retained:
            keep(backup.name, "retain label")
    for backup in unfinished:
        keep(backup.name, "unfinished")

    failed_names = {backup.name for backup in failed}
    failed_beyond = f"failed beyond failedHistoryLimit {policy.failed_history_limit}"
    return Decision(
        kept=tuple(
            Kept(backup.name, tuple(reasons[backup.name]))
            for backup in ordered
            if backup.name in reasons
        ),
        pruned=tuple(
            Pruned(backup.name, failed_beyond if backup.name in failed_names else NOT_KEPT)
            for backup in ordered
            if backup.name not in reasons
        ),
        blocked=_blocked(unfinished),
        dry_run=policy.dry_run,
    )


def _blocked(unfinished: list[Candidate]) -> str | None:
    if not unfinished:
        return None
    newest = unfinished[0]
    state = newest.phase.value if newest.phase is not None else "not started"
    others = f" (and {len(unfinished) - 1} more unfinished)" if len(unfinished) > 1 else ""
    return f"backup {newest.name} is {state}{others}: nothing is deleted until it finishes"


def next_to_go(
    policy: RetentionPolicy, backups: Sequence[Candidate], zone: ZoneInfo, next_time: datetime
) -> list[str]:
    """The backups kept now that the policy lets go once one more backup succeeds at
    `next_time`, newest first."""
    now = decide(policy, backups, zone)
    later = decide(policy, [*backups, Candidate(_NEXT, next_time, Phase.SUCCEEDED)], zone)
    going = {pruned.name for pruned in later.pruned}
    return [kept.name for kept in now.kept if kept.name in going]
