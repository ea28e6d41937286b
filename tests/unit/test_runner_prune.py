"""`tenant-backup prune`: each delete outcome becomes a result the operator accepts, and a
failure its reason, run for real on local files."""

import json
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from tenant_backup.api.result import MAX_LISTED_LEFT, PruneOutcome, PruneResult
from tenant_backup.cli import main
from tenant_backup.runner.destinations.base import AlreadyGone, Deleted, Leftover, PartlyLeft
from tenant_backup.runner.prune import pruned

OPERATOR = TypeAdapter(PruneResult)
URL = "telegram://-100/7"


def accepted(result: PruneResult) -> PruneResult:
    """`result` as the operator reads it from a termination message."""
    message = result.to_message()
    assert len(message.encode()) <= 4096
    return OPERATOR.validate_json(message)


def test_deleted_and_already_gone() -> None:
    assert accepted(pruned(URL, Deleted())).outcome is PruneOutcome.DELETED
    gone = accepted(pruned(URL, AlreadyGone()))
    assert (gone.ok, gone.outcome, gone.url) == (True, PruneOutcome.ALREADY_GONE, URL)
    assert gone.left == ()


def test_pieces_left_are_forgotten_listed_and_bounded() -> None:
    left = tuple(Leftover(f"message {n} (part {n})", "can't be deleted " * 30) for n in range(50))
    result = accepted(pruned(URL, PartlyLeft(left)))
    assert result.ok
    assert result.outcome is PruneOutcome.FORGOTTEN
    assert result.left_total == 50
    assert len(result.left) == MAX_LISTED_LEFT
    assert result.left[0].what == "message 0 (part 0)"
    assert result.left[0].why.endswith("...")


@pytest.mark.parametrize(
    "wire",
    [
        {"ok": True, "url": URL},  # no outcome
        {"ok": True, "url": URL, "outcome": "Deleted", "leftTotal": 1},  # left without Forgotten
        {"ok": True, "url": URL, "outcome": "Forgotten", "left": [], "leftTotal": 0},
        {"ok": True, "url": URL, "outcome": "Erased"},
    ],
)
def test_the_operator_rejects_an_inconsistent_result(wire: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        OPERATOR.validate_json(json.dumps(wire))


def run(tmp_path: Path, *args: str) -> tuple[int, dict[str, object]]:
    result_file = tmp_path / "result.json"
    code = main(["prune", *args, f"--result-file={result_file}"])
    found: dict[str, object] = json.loads(result_file.read_text())
    return code, found


def test_a_file_is_deleted_then_already_gone(tmp_path: Path) -> None:
    artifact = tmp_path / "claim" / "acme" / "a.pgdump.zst"
    artifact.parent.mkdir(parents=True)
    artifact.write_bytes(b"dump")
    url = "pvc://backups/acme/a.pgdump.zst"
    args = (f"--artifact-url={url}", f"--pvc-root={tmp_path / 'claim'}")
    assert run(tmp_path, *args) == (
        0,
        {"ok": True, "reason": "Succeeded", "retryable": False, "message": f"deleted {url}",
         "url": url, "outcome": "Deleted", "left": [], "leftTotal": 0},
    )  # fmt: skip
    assert not artifact.exists()
    code, again = run(tmp_path, *args)
    assert (code, again["outcome"]) == (0, "AlreadyGone")


def test_what_cannot_be_removed_fails_with_its_reason(tmp_path: Path) -> None:
    (tmp_path / "claim" / "a.pgdump.zst").mkdir(parents=True)  # a directory: unlink fails
    url = "pvc://backups/a.pgdump.zst"
    code, result = run(tmp_path, f"--artifact-url={url}", f"--pvc-root={tmp_path / 'claim'}")
    assert code == 1
    assert (result["ok"], result["reason"], result["retryable"]) == (
        False,
        "DestinationUnavailable",
        True,
    )
    assert f"cannot delete {url}" in str(result["message"])


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--artifact-url=http://x/y"], "is not an artifact URL"),
        (["--artifact-url=pvc://backups/a"], "the claim's mount is unknown"),
        (["--artifact-url=s3://b/k", "--telegram-api-url=ftp://x"], "http(s) URL"),
    ],
)
def test_invalid_arguments_fail_permanently(tmp_path: Path, args: list[str], words: str) -> None:
    code, result = run(tmp_path, *args)
    assert code == 1
    assert (result["reason"], result["retryable"]) == ("ValidationFailed", False)
    assert words in str(result["message"])
