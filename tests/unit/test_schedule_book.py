"""Every schedule's runs and drills as the informers deliver them, and which changes wake a
schedule."""

from typing import Any

from tenant_backup.core import naming
from tenant_backup.schedule.book import Book
from tenant_backup.schedule.drills import drill_of
from tenant_backup.schedule.runs import run_of
from tests.support.factories import backup_body


def run_body(name: str, schedule: str | None = "nightly", **status: Any) -> dict[str, Any]:
    body = backup_body(name=name)
    if schedule is not None:
        body["metadata"]["labels"] = {naming.LABEL_SCHEDULE: schedule}
    if status:
        body["status"] = status
    return body


def test_a_new_run_wakes_its_schedule_and_is_listed_under_it() -> None:
    book = Book(run_of)
    assert book.record("team-a", "r1", run_body("r1")) == ("team-a", "nightly")
    assert [run.name for run in book.of(("team-a", "nightly"))] == ["r1"]
    assert book.of(("team-b", "nightly")) == []


def test_only_what_the_schedule_decides_on_wakes_it_again() -> None:
    book = Book(run_of)
    book.record("team-a", "r1", run_body("r1", phase="Running"))
    assert book.record("team-a", "r1", run_body("r1", phase="Running", attempts=2)) is None
    assert book.record("team-a", "r1", run_body("r1", phase="Succeeded")) == ("team-a", "nightly")
    retained = run_body("r1", phase="Succeeded")
    retained["metadata"]["labels"][naming.LABEL_RETAIN] = "true"
    assert book.record("team-a", "r1", retained) == ("team-a", "nightly")
    assert book.of(("team-a", "nightly"))[0].retained


def test_a_run_gone_or_unlabelled_leaves_its_schedule_and_wakes_it() -> None:
    book = Book(run_of)
    book.record("team-a", "r1", run_body("r1"))
    book.record("team-a", "r2", run_body("r2"))
    assert book.record("team-a", "r1", None) == ("team-a", "nightly")
    assert book.record("team-a", "r2", run_body("r2", schedule=None)) == ("team-a", "nightly")
    assert book.of(("team-a", "nightly")) == []
    assert book.record("team-a", "r3", run_body("r3", schedule=None)) is None
    assert book.record("team-a", "gone", None) is None


def test_only_drills_are_a_schedules_drills_and_their_end_wakes_it() -> None:
    book = Book(drill_of)
    labels = {naming.LABEL_SCHEDULE: "nightly"}
    restore: dict[str, Any] = {
        "metadata": {
            "name": "r1-drill",
            "creationTimestamp": "2026-01-01T00:00:00+00:00",
            "labels": labels,
        },
        "spec": {"source": {"backupRef": {"name": "r1"}}},
    }
    assert book.record("team-a", "r1-drill", restore) is None  # not labelled a drill
    labels[naming.LABEL_DRILL] = "true"
    assert book.record("team-a", "r1-drill", restore) == ("team-a", "nightly")
    assert book.record("team-a", "r1-drill", restore) is None
    restore["status"] = {"phase": "Succeeded"}
    assert book.record("team-a", "r1-drill", restore) == ("team-a", "nightly")
    assert [drill.backup for drill in book.of(("team-a", "nightly"))] == ["r1"]
