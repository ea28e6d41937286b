"""Pure: from a schedule, its runs, the slot due and the tenants found, the status it should
have and what to do: runs to create, runs to prune, Events, when to look again.

The schedule's truth is its status: the newest slot taken (`lastScheduleTime`) and the
tenants of that slot still to start (`slot.pending`). Runs have deterministic names, so a
pass interrupted anywhere is repeated by the next one without a duplicate or a loss.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tenant_backup.api.attempts import Condition, ConditionType, Phase
from tenant_backup.api.durations import Duration
from tenant_backup.api.reasons import ScheduleReason
from tenant_backup.api.schedule import (
    EVERY_TENANT,
    ConcurrencyPolicy,
    Discovery,
    Slot,
    TenantBackupSchedule,
    TenantBackupScheduleStatus,
    TenantState,
)
from tenant_backup.core.conditions import Status, with_condition
from tenant_backup.core.events import Event
from tenant_backup.schedule import retention
from tenant_backup.schedule.children import child_name
from tenant_backup.schedule.cron import Cron, CronError, parse_cron
from tenant_backup.schedule.drills import DrillPlan, DrillRun, plan_drills
from tenant_backup.schedule.runs import Run, run_manifest
from tenant_backup.schedule.timing import Due, spread_offset

Body = dict[str, Any]
DISCOVERY_RETRY = timedelta(seconds=30)


@dataclass(frozen=True)
class Config:
    """A schedule's spec, checked beyond what admission could."""

    cron: Cron
    window: timedelta
    deadline: timedelta | None


@dataclass(frozen=True)
class Invalid:
    """Why the spec cannot be scheduled."""

    message: str


@dataclass(frozen=True)
class Tenants:
    """The tenants a slot backs up: the listed or discovered ones the namespace may back up;
    `problem` when they could not be found (the database was unreachable)."""

    allowed: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()
    """Found or listed, but not allowed in the namespace."""
    problem: str | None = None


@dataclass(frozen=True)
class SchedulePlan:
    """The outcome of one pass."""

    status: TenantBackupScheduleStatus
    creates: list[Body] = field(default_factory=list)
    """Runs to create (before writing `status`)."""
    prunes: list[str] = field(default_factory=list)
    """Runs to delete, artifact first (before writing `status`)."""
    events: list[Event] = field(default_factory=list)
    wake_at: datetime | None = None
    drill_creates: list[Body] = field(default_factory=list)
    """Drills (Verify TenantRestores) to create (before writing `status`)."""
    drill_deletes: list[str] = field(default_factory=list)
    """Finished drills past `drill.keep` to delete."""


def configure(schedule: TenantBackupSchedule) -> Config | Invalid:
    """The cron in its zone and the spread window, or why they are unusable."""
    spec = schedule.spec
    try:
        cron = parse_cron(spec.schedule, spec.time_zone)
    except CronError as error:
        return Invalid(str(error))
    window = timedelta(0)
    if spec.spread_window:
        window = Duration.parse(spec.spread_window).fixed() or timedelta(0)
        if window >= cron.interval():
            return Invalid(
                f"spreadWindow {spec.spread_window} must be shorter than the time between two "
                f"slots of {spec.schedule!r} ({cron.interval()})"
            )
    deadline = spec.starting_deadline_seconds
    return Config(cron, window, timedelta(seconds=deadline) if deadline is not None else None)


def plan(
    schedule: TenantBackupSchedule,
    config: Config | Invalid,
    due: Due | None,
    tenants: Tenants | None,
    runs: Sequence[Run],
    now: datetime,
    restoring: Mapping[str, str] | None = None,
    drills: Sequence[DrillRun] = (),
) -> SchedulePlan:
    """The pass's decisions (see the module docstring). `due` is None while suspended or
    invalid; `tenants` is given when `due` has a slot to take. `restoring` maps the tenants a
    Replace restore is replacing on the schedule's server to that restore: their runs skip
    the slot. `drills`: the schedule's restore drills (`schedule.drills`)."""
    old = schedule.status
    work = _Work(schedule, old, now, restoring or {})
    # Runs being pruned: deleting, or asked to be by an earlier pass that the index (which
    # lags) does not show yet. Neither counted again nor shown.
    live = [run for run in runs if not run.deleting and run.name not in old.pruning]
    work.present = {run.name for run in runs}
    if isinstance(config, Invalid):
        work.ready("False", ScheduleReason.INVALID_SCHEDULE, config.message)
        return work.finish(live, wake_at=None)
    if schedule.spec.suspend:
        work.suspend(due)
    elif due is not None and not work.take(due, tenants):
        return work.finish(live, wake_at=now + DISCOVERY_RETRY)
    wake_at = None if schedule.spec.suspend else work.fan_out(config, live)
    work.prune(config, live)
    drill_plan = plan_drills(schedule, live, drills, now)
    return _with_drills(work.finish(live, wake_at), drill_plan, schedule.spec.suspend)


def _with_drills(decided: SchedulePlan, drills: DrillPlan, suspended: bool) -> SchedulePlan:
    """The plan with the drills to create (none while suspended) and delete, each tenant's
    newest drill in its state, and the wake-up a drill's period asks for."""
    tenants = [
        state.model_copy(update={"last_drill": drills.last.get(state.tenant)})
        for state in decided.status.tenants
    ]
    wake_at = min(
        (at for at in (decided.wake_at, None if suspended else drills.wake_at) if at), default=None
    )
    return SchedulePlan(
        decided.status.model_copy(update={"tenants": tenants}),
        decided.creates,
        decided.prunes,
        decided.events,
        wake_at,
        [] if suspended else drills.creates,
        drills.deletes,
    )


class _Work:
    """One pass's state while it is decided."""

    def __init__(
        self,
        schedule: TenantBackupSchedule,
        old: TenantBackupScheduleStatus,
        now: datetime,
        restoring: Mapping[str, str],
    ) -> None:
        self.schedule = schedule
        self.restoring = restoring
        self.now = now
        self.generation = schedule.metadata.generation
        self.status = old.model_copy(update={"observed_generation": self.generation})
        self.states = {state.tenant: state for state in old.tenants}
        self.creates: list[Body] = []
        self.prunes: list[str] = []
        self.present: set[str] = set()
        """The names of every run that exists, being deleted or not."""
        self.events: list[Event] = []
        self.ready_condition: tuple[str, str, str] | None = None

    def ready(self, status: str, reason: str, message: str) -> None:
        self.ready_condition = (status, reason, message)

    def event(self, type_: str, reason: str, message: str) -> None:
        self.events.append(Event(type_, reason, message))

    def suspend(self, due: Due | None) -> None:
        """No slot is taken; slots passing meanwhile are not owed when it resumes."""
        slot = self.status.slot
        if slot is not None and slot.pending:
            self.event(
                "Normal",
                ScheduleReason.SUSPENDED,
                f"suspended: {len(slot.pending)} runs of slot {slot.time.isoformat()} not started",
            )
        update: dict[str, Any] = {"slot": None, "next_schedule_time": None}
        if due is not None:
            update["last_schedule_time"] = due.last_slot or self.status.last_schedule_time
        self.status = self.status.model_copy(update=update)

    def take(self, due: Due, tenants: Tenants | None) -> bool:
        """Take the due slot, if any; False when its tenants could not be found (nothing is
        recorded then, so the next pass decides the same slot again)."""
        update: dict[str, Any] = {"next_schedule_time": due.next_slot}
        if due.slot is not None and tenants is not None and tenants.problem is not None:
            self.ready("False", ScheduleReason.DISCOVERY_FAILED, tenants.problem)
            self.status = self.status.model_copy(update=update)
            return False
        if due.missed:
            more = "+" if due.missed_capped else ""
            self.event(
                "Warning",
                ScheduleReason.MISSED,
                f"{due.missed}{more} slots missed (the operator was not running, or they were "
                "later than startingDeadlineSeconds); only the newest runs, once, if in time",
            )
            update["missed"] = self.status.missed + due.missed
        if due.last_slot is not None:
            update["last_schedule_time"] = due.last_slot
        if due.slot is not None or due.missed:
            self._drop_pending("a newer slot came before they started")
            update["slot"] = None
        if due.slot is not None and tenants is not None:
            update["slot"] = self._new_slot(due.slot, tenants)
        self.status = self.status.model_copy(update=update)
        return True

    def _new_slot(self, time: datetime, tenants: Tenants) -> Slot:
        found = sorted(tenants.allowed)
        if self.schedule.spec.tenants == [EVERY_TENANT]:
            before = set(self.status.slot.tenants if self.status.slot else [])
            if self.status.discovery is None:
                before = set(found)
            added = sorted(set(found) - before)
            dropped = sorted(before - set(found))
            if added or dropped:
                self.event(
                    "Normal",
                    ScheduleReason.TENANTS_CHANGED,
                    f"tenants added: {', '.join(added) or '-'}; "
                    f"dropped: {', '.join(dropped) or '-'}",
                )
            self.status = self.status.model_copy(
                update={
                    "discovery": Discovery(
                        time=self.now,
                        count=len(found),
                        added=added,
                        dropped=dropped,
                        ignored=sorted(tenants.ignored),
                    )
                }
            )
        window = self.schedule.spec.spread_window
        spread = f", spread over {window}" if window else ""
        ignored = (
            f"; not allowed in this namespace: {', '.join(tenants.ignored)}"
            if tenants.ignored
            else ""
        )
        self.event(
            "Normal",
            ScheduleReason.SCHEDULED,
            f"slot {time.isoformat()}: {len(found)} tenants{spread}{ignored}",
        )
        return Slot(time=time, tenants=found, pending=found)

    def _drop_pending(self, why: str) -> None:
        slot = self.status.slot
        if slot is None or not slot.pending:
            return
        for tenant in slot.pending:
            self._skip(tenant, f"slot {slot.time.isoformat()} of tenant {tenant} skipped: {why}")

    def _skip(
        self,
        tenant: str,
        message: str,
        reason: ScheduleReason = ScheduleReason.SKIPPED,
        type_: str = "Warning",
    ) -> None:
        state = self._state(tenant)
        self.states[tenant] = state.model_copy(update={"skipped": state.skipped + 1})
        self.status = self.status.model_copy(update={"skipped": self.status.skipped + 1})
        self.event(type_, reason, message)

    def _state(self, tenant: str) -> TenantState:
        return self.states.get(tenant) or TenantState(tenant=tenant)

    def fan_out(self, config: Config, runs: Sequence[Run]) -> datetime | None:
        """Create the runs of the current slot whose offset has come; when to look again."""
        slot = self.status.slot
        wake_at = self.status.next_schedule_time
        if slot is None:
            return wake_at
        meta = self.schedule.metadata
        by_name = {run.name: run for run in runs}
        active = _active_by_tenant(runs)
        previous = _last_success(runs)
        pending = []
        for tenant in slot.pending:
            start = slot.time + spread_offset(meta.namespace, meta.name, tenant, config.window)
            if start > self.now:
                pending.append(tenant)
                wake_at = min(wake_at, start) if wake_at else start
                continue
            name = child_name(meta.name, tenant, slot.time)
            if name in by_name:
                continue  # created by an earlier pass whose status write was lost
            if tenant in self.restoring:
                self._skip(
                    tenant,
                    f"slot {slot.time.isoformat()} of tenant {tenant} skipped: TenantRestore "
                    f"{self.restoring[tenant]} is replacing it",
                    ScheduleReason.RESTORING,
                    "Normal",
                )
                continue
            blocking = [run for run in active.get(tenant, []) if run.slot != slot.time]
            if blocking and self.schedule.spec.concurrency_policy is ConcurrencyPolicy.FORBID:
                self._skip(
                    tenant,
                    f"slot {slot.time.isoformat()} of tenant {tenant} skipped: its run "
                    f"{blocking[0].name} has not finished (concurrencyPolicy Forbid)",
                )
                continue
            ref = previous[tenant].ref() if tenant in previous else None
            self.creates.append(run_manifest(self.schedule, tenant, slot.time, ref))
        self.status = self.status.model_copy(
            update={"slot": slot.model_copy(update={"pending": pending})}
        )
        return wake_at

    def prune(self, config: Config, runs: Sequence[Run]) -> None:
        """Apply the retention policy per tenant: delete what it lets go (unless in a dry
        run, or while a run of the tenant is unfinished) and show what goes next."""
        policy = self.schedule.spec.retention
        next_time = self.status.next_schedule_time or self.now
        for tenant, own in _by_tenant(runs).items():
            state = self._state(tenant)
            succeeded = {run.name for run in own if run.phase is Phase.SUCCEEDED}
            if policy is None:
                update: dict[str, Any] = {"kept": len(succeeded), "next_to_go": []}
                self.states[tenant] = state.model_copy(update=update)
                continue
            candidates = [_candidate(run) for run in own]
            decision = retention.decide(policy, candidates, config.cron.zone)
            letting_go = [pruned.name for pruned in decision.pruned]
            doomed = list(decision.deletions)
            for pruned in decision.pruned:
                if pruned.name in doomed:
                    self.event(
                        "Normal",
                        ScheduleReason.PRUNED,
                        f"pruning {pruned.name} of tenant {tenant}: {pruned.reason}",
                    )
            if doomed:
                rest = [candidate for candidate in candidates if candidate.name not in doomed]
                upcoming = retention.next_to_go(policy, rest, config.cron.zone, next_time)
            elif letting_go:  # a dry run, or blocked by an unfinished run
                upcoming = letting_go
            else:
                upcoming = retention.next_to_go(policy, candidates, config.cron.zone, next_time)
            self.prunes.extend(doomed)
            self.states[tenant] = state.model_copy(
                update={
                    "kept": len(succeeded - set(letting_go)),
                    "pruned": state.pruned + len(doomed),
                    "next_to_go": sorted(upcoming),
                }
            )
            self.status = self.status.model_copy(
                update={"pruned": self.status.pruned + len(doomed)}
            )

    def finish(self, runs: Sequence[Run], wake_at: datetime | None) -> SchedulePlan:
        """The status with every tenant's runs summarised, and the conditions."""
        pruned = set(self.prunes)
        remaining = [run for run in runs if run.name not in pruned]
        last_run = _newest(remaining, lambda run: run.created)
        last_success = _last_success(remaining)
        for tenant in set(last_run) | set(self.states):
            state = self._state(tenant)
            self.states[tenant] = state.model_copy(
                update={
                    "last_run": last_run[tenant].ref() if tenant in last_run else None,
                    "last_success": last_success[tenant].ref() if tenant in last_success else None,
                }
            )
        successes = [run.time for run in last_success.values()]
        slot = self.status.slot
        listed = self.schedule.spec.tenants
        every = listed == [EVERY_TENANT]
        count = (
            len(slot.tenants) if slot else self.status.tenant_count or (0 if every else len(listed))
        )
        status = self.status.model_copy(
            update={
                "tenants": [self.states[tenant] for tenant in sorted(self.states)],
                "active": sorted(run.name for run in runs if not run.finished),
                "pruning": sorted((set(self.status.pruning) | pruned) & self.present),
                "last_successful_time": max(successes, default=self.status.last_successful_time),
                "tenant_count": count,
                "conditions": self._conditions(),
            }
        )
        return SchedulePlan(status, self.creates, self.prunes, self.events, wake_at)

    def _conditions(self) -> list[Condition]:
        spec = self.schedule.spec
        if self.ready_condition is None:
            when = self.status.next_schedule_time
            message = (
                "suspended"
                if spec.suspend
                else f"next slot at {when.isoformat()}"
                if when
                else "scheduled"
            )
            self.ready_condition = ("True", ScheduleReason.SCHEDULED, message)
        status, reason, message = self.ready_condition
        conditions = self.status.conditions
        for kind, value in _kstatus(status, reason):
            conditions = with_condition(
                conditions, kind, value, reason, message, self.now, self.generation
            )
        return with_condition(
            conditions,
            ConditionType.SUSPENDED,
            "True" if spec.suspend else "False",
            ScheduleReason.SUSPENDED if spec.suspend else ScheduleReason.ACTIVE,
            "spec.suspend is true: no new runs" if spec.suspend else "taking slots",
            self.now,
            self.generation,
        )


def _kstatus(ready: str, reason: str) -> list[tuple[ConditionType, Status]]:
    """`Ready`, and kstatus's `Stalled` (an invalid schedule waits for a spec change) and
    `Reconciling` (tenant discovery failed and is retried)."""
    return [
        (ConditionType.READY, "True" if ready == "True" else "False"),
        (
            ConditionType.RECONCILING,
            "True" if reason == ScheduleReason.DISCOVERY_FAILED else "False",
        ),
        (ConditionType.STALLED, "True" if reason == ScheduleReason.INVALID_SCHEDULE else "False"),
    ]


def _candidate(run: Run) -> retention.Candidate:
    return retention.Candidate(
        name=run.name,
        time=run.created,
        phase=run.phase,
        retained=run.retained,
        flagged=run.flagged,
    )


def _by_tenant(runs: Iterable[Run]) -> dict[str, list[Run]]:
    grouped: defaultdict[str, list[Run]] = defaultdict(list)
    for run in runs:
        grouped[run.tenant].append(run)
    return dict(grouped)


def _active_by_tenant(runs: Iterable[Run]) -> dict[str, list[Run]]:
    return _by_tenant(run for run in runs if not run.finished)


def _newest(runs: Iterable[Run], key: Any) -> dict[str, Run]:
    newest: dict[str, Run] = {}
    for run in runs:
        best = newest.get(run.tenant)
        if best is None or key(run) > key(best):
            newest[run.tenant] = run
    return newest


def _last_success(runs: Iterable[Run]) -> Mapping[str, Run]:
    """Each tenant's newest Succeeded run."""
    return _newest((run for run in runs if run.phase is Phase.SUCCEEDED), lambda run: run.time)


def names_taken(decided: SchedulePlan, taken: Sequence[tuple[str, str]]) -> SchedulePlan:
    """The plan after creating its runs, when foreign objects held some of their names
    (`taken`: tenant, name): those tenants skip the slot, counted, with an Event."""
    if not taken:
        return decided
    states = {state.tenant: state for state in decided.status.tenants}
    events = list(decided.events)
    for tenant, name in taken:
        state = states.get(tenant) or TenantState(tenant=tenant)
        states[tenant] = state.model_copy(update={"skipped": state.skipped + 1})
        events.append(
            Event(
                "Warning",
                ScheduleReason.NAME_TAKEN,
                f"tenant {tenant} skipped this slot: a TenantBackup named {name} exists and is "
                "not one of this schedule's runs (left untouched)",
            )
        )
    status = decided.status.model_copy(
        update={
            "skipped": decided.status.skipped + len(taken),
            "tenants": [states[tenant] for tenant in sorted(states)],
        }
    )
    return SchedulePlan(
        status,
        decided.creates,
        decided.prunes,
        events,
        decided.wake_at,
        decided.drill_creates,
        decided.drill_deletes,
    )
