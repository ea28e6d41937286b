"""The schedule's pure pass: slots taken, runs created (spread, Forbid, adopted, name taken),
retention applied, suspend, and what it reports when the spec or the database fails it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tenant_backup.api.attempts import Phase
from tenant_backup.api.schedule import TenantBackupSchedule
from tenant_backup.core import naming
from tenant_backup.schedule.children import child_name
from tenant_backup.schedule.plan import (
    Config,
    Invalid,
    SchedulePlan,
    Tenants,
    configure,
    names_taken,
    plan,
)
from tenant_backup.schedule.runs import Run
from tenant_backup.schedule.timing import due

CREATED = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)
SLOT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
NEXT = SLOT + timedelta(days=1)


def schedule(status: dict[str, Any] | None = None, **spec: Any) -> TenantBackupSchedule:
    fields: dict[str, Any] = {
        "schedule": "0 2 * * *",
        "tenants": ["acme", "globex"],
        "template": {
            "database": {"secretRef": {"name": "db"}},
            "destination": {"pvc": {"claimName": "backups"}},
        },
    } | spec
    return TenantBackupSchedule.from_body(
        {
            "metadata": {
                "name": "nightly",
                "namespace": "team-a",
                "uid": "u-1",
                "creationTimestamp": CREATED.isoformat(),
            },
            "spec": fields,
            "status": status or {},
        }
    )


def run(
    tenant: str,
    slot: datetime,
    phase: Phase | None = Phase.SUCCEEDED,
    size: int | None = 1000,
    **extra: Any,
) -> Run:
    fields: dict[str, Any] = {
        "name": child_name("nightly", tenant, slot),
        "tenant": tenant,
        "slot": slot,
        "created": slot,
        "phase": phase,
        "completion": slot + timedelta(minutes=1) if phase and phase.terminal else None,
        "artifact": f"pvc://backups/{tenant}-{slot:%d}" if phase is Phase.SUCCEEDED else None,
        "size_bytes": size if phase is Phase.SUCCEEDED else None,
        "flagged": False,
        "retained": False,
        "deleting": False,
    } | extra
    return Run(**fields)


def pass_at(
    current: TenantBackupSchedule,
    now: datetime,
    runs: list[Run] | None = None,
    tenants: Tenants | None = None,
) -> SchedulePlan:
    config = configure(current)
    assert isinstance(config, Config), config
    slot_due = due(config.cron, current.status.last_schedule_time, CREATED, now, config.deadline)
    found = tenants or Tenants(allowed=tuple(current.spec.tenants))
    return plan(current, config, slot_due, found, runs or [], now)


def after(current: TenantBackupSchedule, decided: SchedulePlan) -> TenantBackupSchedule:
    return current.model_copy(update={"status": decided.status})


def conditions(decided: SchedulePlan) -> dict[str, tuple[str, str]]:
    return {c.type.value: (c.status, c.reason) for c in decided.status.conditions}


def test_before_the_first_slot_nothing_runs_and_the_next_slot_is_shown() -> None:
    decided = pass_at(schedule(), CREATED + timedelta(minutes=1))
    assert decided.creates == []
    assert decided.status.next_schedule_time == SLOT
    assert decided.wake_at == SLOT
    assert conditions(decided)["Ready"] == ("True", "Scheduled")
    assert conditions(decided)["Suspended"] == ("False", "Active")
    assert conditions(decided)["Reconciling"] == ("False", "Scheduled")
    assert conditions(decided)["Stalled"] == ("False", "Scheduled")


def test_a_due_slot_creates_one_labelled_run_per_tenant_with_the_finalizer() -> None:
    decided = pass_at(schedule(), SLOT + timedelta(seconds=3))
    names = [body["metadata"]["name"] for body in decided.creates]
    assert names == [child_name("nightly", "acme", SLOT), child_name("nightly", "globex", SLOT)]
    body = decided.creates[0]
    assert body["metadata"]["labels"] == {
        naming.LABEL_SCHEDULE: "nightly",
        naming.LABEL_TENANT: "acme",
    }
    assert body["metadata"]["finalizers"] == [naming.FINALIZER_ARTIFACT]
    assert body["metadata"]["annotations"][naming.ANNOTATION_SLOT] == SLOT.isoformat()
    assert body["spec"]["tenant"] == "acme"
    assert body["spec"]["destination"]["pvc"]["claimName"] == "backups"
    assert "sizeCheck" not in body["spec"]
    assert decided.status.last_schedule_time == SLOT
    assert decided.status.slot is not None
    assert decided.status.slot.pending == []
    assert decided.status.next_schedule_time == NEXT
    assert [event.reason for event in decided.events] == ["Scheduled"]


def test_the_same_pass_repeated_adopts_its_runs_instead_of_creating_more() -> None:
    first = pass_at(schedule(), SLOT + timedelta(seconds=3))
    lost_write = schedule()  # the status write was lost: the runs exist
    runs = [run("acme", SLOT, None), run("globex", SLOT, None)]
    again = pass_at(lost_write, SLOT + timedelta(seconds=5), runs)
    assert len(first.creates) == 2
    assert again.creates == []
    assert again.status.last_schedule_time == SLOT
    assert sorted(again.status.active) == sorted(r.name for r in runs)


def test_a_spread_window_starts_each_tenant_at_its_offset() -> None:
    tenants = [f"t{n}" for n in range(20)]
    current = schedule(tenants=tenants, spreadWindow="30m")
    decided = pass_at(current, SLOT)
    assert decided.status.slot is not None
    started = {body["spec"]["tenant"] for body in decided.creates}
    assert len(started) < len(tenants)
    assert decided.wake_at is not None
    assert SLOT < decided.wake_at < SLOT + timedelta(minutes=30)
    later = pass_at(after(current, decided), SLOT + timedelta(minutes=30))
    assert started | {body["spec"]["tenant"] for body in later.creates} == set(tenants)
    assert later.status.slot is not None
    assert later.status.slot.pending == []


def test_forbid_skips_a_tenant_whose_previous_run_is_unfinished_and_allow_runs_it() -> None:
    yesterday = SLOT - timedelta(days=1)
    stuck = [run("acme", yesterday, Phase.RUNNING)]
    forbid = pass_at(schedule(status={"lastScheduleTime": yesterday.isoformat()}), SLOT, stuck)
    assert [body["spec"]["tenant"] for body in forbid.creates] == ["globex"]
    assert forbid.status.skipped == 1
    acme = next(state for state in forbid.status.tenants if state.tenant == "acme")
    assert acme.skipped == 1
    assert "Skipped" in [event.reason for event in forbid.events]
    allow = pass_at(
        schedule(status={"lastScheduleTime": yesterday.isoformat()}, concurrencyPolicy="Allow"),
        SLOT,
        stuck,
    )
    assert [body["spec"]["tenant"] for body in allow.creates] == ["acme", "globex"]


def test_a_tenant_being_replaced_by_a_restore_skips_the_slot_with_an_event() -> None:
    current = schedule()
    config = configure(current)
    assert isinstance(config, Config)
    slot_due = due(config.cron, None, CREATED, SLOT, config.deadline)
    found = Tenants(allowed=("acme", "globex"))
    decided = plan(current, config, slot_due, found, [], SLOT, {"acme": "team-a/undo"})
    assert [body["spec"]["tenant"] for body in decided.creates] == ["globex"]
    assert decided.status.skipped == 1
    skipped = [event for event in decided.events if event.reason == "Restoring"]
    assert [(event.type, event.message) for event in skipped] == [
        (
            "Normal",
            f"slot {SLOT.isoformat()} of tenant acme skipped: TenantRestore team-a/undo is "
            "replacing it",
        )
    ]


def test_a_name_held_by_a_foreign_object_skips_that_tenant_with_an_event() -> None:
    decided = pass_at(schedule(), SLOT)
    taken = names_taken(decided, [("globex", child_name("nightly", "globex", SLOT))])
    assert taken.status.skipped == 1
    assert [e.reason for e in taken.events][-1] == "NameTaken"


def test_the_next_run_carries_a_size_check_against_the_last_success() -> None:
    yesterday = SLOT - timedelta(days=1)
    runs = [run("acme", yesterday, size=5000)]
    decided = pass_at(schedule(status={"lastScheduleTime": yesterday.isoformat()}), SLOT, runs)
    acme = next(body for body in decided.creates if body["spec"]["tenant"] == "acme")
    assert acme["spec"]["sizeCheck"] == {
        "previousBackup": runs[0].name,
        "previousSizeBytes": 5000,
        "minSizeRatio": 0.5,
    }


def test_after_a_long_downtime_only_the_newest_slot_runs_and_the_rest_are_missed() -> None:
    last = SLOT - timedelta(days=101)
    decided = pass_at(
        schedule(status={"lastScheduleTime": last.isoformat()}), SLOT + timedelta(hours=1)
    )
    assert {
        body["metadata"]["annotations"][naming.ANNOTATION_SLOT] for body in decided.creates
    } == {SLOT.isoformat()}
    assert decided.status.missed == 100
    assert "Missed" in [event.reason for event in decided.events]


def test_retention_prunes_per_tenant_and_keeps_the_newest_success() -> None:
    days = [SLOT - timedelta(days=n) for n in (3, 2, 1)]
    runs = [run("acme", day) for day in days] + [run("globex", days[-1], Phase.FAILED)]
    current = schedule(status={"lastScheduleTime": days[-1].isoformat()}, retention={"keepLast": 1})
    decided = pass_at(current, days[-1] + timedelta(hours=1), runs)
    assert sorted(decided.prunes) == sorted(r.name for r in runs[:2])
    assert decided.status.pruned == 2
    acme = next(state for state in decided.status.tenants if state.tenant == "acme")
    assert (acme.kept, acme.pruned) == (1, 2)
    assert acme.last_success is not None
    assert acme.last_success.name == runs[2].name
    assert [e.reason for e in decided.events].count("Pruned") == 2


def test_retention_in_a_dry_run_or_beside_a_running_run_deletes_nothing_but_shows_it() -> None:
    days = [SLOT - timedelta(days=n) for n in (3, 2, 1)]
    runs = [run("acme", day) for day in days]
    status = {"lastScheduleTime": days[-1].isoformat()}
    dry = schedule(status=status, retention={"keepLast": 1, "dryRun": True})
    decided = pass_at(dry, days[-1] + timedelta(hours=1), runs)
    assert decided.prunes == []
    assert decided.status.tenants[0].next_to_go == sorted(r.name for r in runs[:2])
    busy = [*runs, run("acme", days[-1] + timedelta(hours=1), Phase.RUNNING, created=days[-1])]
    blocked = pass_at(
        schedule(status=status, retention={"keepLast": 1}), days[-1] + timedelta(hours=2), busy
    )
    assert blocked.prunes == []


def test_runs_being_deleted_are_neither_pruned_again_nor_shown() -> None:
    days = [SLOT - timedelta(days=n) for n in (3, 2, 1)]
    runs = [run("acme", days[0], deleting=True), run("acme", days[1]), run("acme", days[2])]
    current = schedule(status={"lastScheduleTime": days[-1].isoformat()}, retention={"keepLast": 1})
    decided = pass_at(current, days[-1] + timedelta(hours=1), runs)
    assert decided.prunes == [runs[1].name]


def test_suspend_takes_no_slot_and_owes_none_when_resumed() -> None:
    current = schedule(suspend=True)
    config = configure(current)
    assert isinstance(config, Config)
    now = SLOT + timedelta(days=3, hours=1)
    slot_due = due(config.cron, None, CREATED, now, None)
    decided = plan(current, config, slot_due, None, [], now)
    assert decided.creates == []
    assert decided.wake_at is None
    assert decided.status.missed == 0
    assert decided.status.last_schedule_time == SLOT + timedelta(days=3)
    assert conditions(decided)["Suspended"] == ("True", "Suspended")
    resumed = schedule(status=decided.status.model_dump(mode="json", by_alias=True))
    assert pass_at(resumed, now + timedelta(minutes=1)).creates == []


def test_tenants_not_found_take_no_slot_and_retry() -> None:
    now = SLOT + timedelta(seconds=3)
    decided = pass_at(schedule(tenants=["*"]), now, tenants=Tenants(problem="database down"))
    assert decided.creates == []
    assert decided.status.last_schedule_time is None
    assert conditions(decided)["Ready"] == ("False", "DiscoveryFailed")
    assert conditions(decided)["Reconciling"] == ("True", "DiscoveryFailed")
    assert conditions(decided)["Stalled"] == ("False", "DiscoveryFailed")
    assert decided.wake_at == now + timedelta(seconds=30)


def test_every_tenant_reports_what_the_database_added_dropped_and_the_namespace_refused() -> None:
    first = pass_at(
        schedule(tenants=["*"]),
        SLOT,
        tenants=Tenants(allowed=("acme", "initech"), ignored=("hooli",)),
    )
    assert first.status.discovery is not None
    assert first.status.discovery.ignored == ["hooli"]
    assert first.status.tenant_count == 2
    second = pass_at(
        after(schedule(tenants=["*"]), first), NEXT, tenants=Tenants(allowed=("acme", "wayne"))
    )
    assert second.status.discovery is not None
    assert (second.status.discovery.added, second.status.discovery.dropped) == (
        ["wayne"],
        ["initech"],
    )
    assert "TenantsChanged" in [e.reason for e in second.events]


def test_a_spec_the_operator_cannot_schedule_is_reported_and_runs_nothing() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"timeZone": "Mars/Olympus_Mons"}, "Mars/Olympus_Mons"),
        ({"schedule": "0 * * * *", "spreadWindow": "2h"}, "spreadWindow"),
    ]
    for spec, text in cases:
        current = schedule(**spec)
        config = configure(current)
        assert isinstance(config, Invalid)
        assert text in config.message
        decided = plan(current, config, None, None, [], SLOT)
        assert decided.creates == []
        assert decided.prunes == []
        assert conditions(decided)["Ready"] == ("False", "InvalidSchedule")
        assert conditions(decided)["Stalled"] == ("True", "InvalidSchedule")
        assert conditions(decided)["Reconciling"] == ("False", "InvalidSchedule")


def test_a_run_asked_to_be_pruned_is_not_pruned_or_counted_again_before_the_index_shows_it() -> (
    None
):
    days = [SLOT - timedelta(days=n) for n in (3, 2, 1)]
    runs = [run("acme", day) for day in days]
    current = schedule(status={"lastScheduleTime": days[-1].isoformat()}, retention={"keepLast": 1})
    first = pass_at(current, days[-1] + timedelta(hours=1), runs)
    assert len(first.prunes) == 2
    assert first.status.pruning == sorted(first.prunes)
    # The next pass comes before the watch shows the runs being deleted.
    again = pass_at(after(current, first), days[-1] + timedelta(hours=1, seconds=1), runs)
    assert again.prunes == []
    assert again.status.pruned == 2
    assert again.status.pruning == sorted(first.prunes)
    # Once they are gone, they leave the list.
    gone = pass_at(after(current, again), days[-1] + timedelta(hours=2), runs[2:])
    assert gone.status.pruning == []
    assert gone.status.pruned == 2
