"""Every schedule's runs as the informer delivers them, and which changes wake a schedule."""

from typing import Any

from tenant_backup.core import naming
from tenant_backup.schedule.runs import RunBook
from tests.support.factories import backup_body


def run_body(name: str, schedule: str | None = "nightly", **status: Any) -> dict[str, Any]:
    body = backup_body(name=name)
    if schedule is not None:
        body["metadata"]["labels"] = {naming.LABEL_SCHEDULE: schedule}
    if status:
        body["status"] = status
    return body


def test_a_new_run_wakes_its_schedule_and_is_listed_under_it() -> None:
    book = RunBook()
    assert book.record("team-a", "r1", run_body("r1")) == ("team-a", "nightly")
    assert [run.name for run in book.runs(("team-a", "nightly"))] == ["r1"]
    assert book.runs(("team-b", "nightly")) == []


def test_only_what_the_schedule_decides_on_wakes_it_again() -> None:
    book = RunBook()
    book.record("team-a", "r1", run_body("r1", phase="Running"))
    assert book.record("team-a", "r1", run_body("r1", phase="Running", attempts=2)) is None
    assert book.record("team-a", "r1", run_body("r1", phase="Succeeded")) == ("team-a", "nightly")
    retained = run_body("r1", phase="Succeeded")
    retained["metadata"]["labels"][naming.LABEL_RETAIN] = "true"
    assert book.record("team-a", "r1", retained) == ("team-a", "nightly")
    assert book.runs(("team-a", "nightly"))[0].retained


def test_a_run_gone_or_unlabelled_leaves_its_schedule_and_wakes_it() -> None:
    book = RunBook()
    book.record("team-a", "r1", run_body("r1"))
    book.record("team-a", "r2", run_body("r2"))
    assert book.record("team-a", "r1", None) == ("team-a", "nightly")
    assert book.record("team-a", "r2", run_body("r2", schedule=None)) == ("team-a", "nightly")
    assert book.runs(("team-a", "nightly")) == []
    assert book.record("team-a", "r3", run_body("r3", schedule=None)) is None
    assert book.record("team-a", "gone", None) is None
