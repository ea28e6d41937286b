"""The restore subcommand's arguments: validation, deterministic names, the checks file, and
its result's shape as the operator will validate it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import TypeAdapter, ValidationError

from tenant_backup.api.result import CheckResult, RestoreResult
from tenant_backup.cli import build_parser
from tenant_backup.runner.errors import RunError
from tenant_backup.runner.restore_options import Names, from_args, load_checks

SHA = "a" * 64


def _options(*args: str) -> object:
    argv = ["restore", "--artifact-url", "s3://b/k.zst", "--expected-sha256", SHA.upper(),
            "--source-tenant", "acme", "--restore-id", "ns.r-1", *args]  # fmt: skip
    return from_args(build_parser("restore").parse_args(argv))


def test_defaults_and_names() -> None:
    opts = _options()
    assert opts.source_schema == opts.target_schema == "tenant_acme"  # type: ignore[attr-defined]
    assert opts.expected_sha256 == SHA  # type: ignore[attr-defined]
    assert str(opts.mode) == "create-new"  # type: ignore[attr-defined]
    names = Names.of("ns.r-1")
    assert names == opts.names  # type: ignore[attr-defined]
    assert names.temporary.startswith("tbr_new_")
    assert len(names.temporary) == 24
    assert names.previous == "tbr_prev_" + names.temporary.removeprefix("tbr_new_")
    assert Names.of("ns.r-2").temporary != names.temporary


@pytest.mark.parametrize(
    "args",
    [
        ("--target-tenant", "Acme!"),
        ("--restore-id", "bad id"),
        ("--keep-previous-seconds", "-1"),
        ("--verify-database", "x"),
        ("--expected-sha256", "abc"),
        ("--artifact-url", "ftp://x/y"),
    ],
)
def test_invalid_arguments_fail_validation(args: tuple[str, ...]) -> None:
    with pytest.raises(RunError) as raised:
        _options(*args)
    assert raised.value.reason == "ValidationFailed"


def test_checks_file(tmp_path: Path) -> None:
    path = tmp_path / "checks.json"
    path.write_text(json.dumps([{"name": "n", "sql": "SELECT 1", "expect": "1"}]))
    assert [(c.name, c.sql, c.expect) for c in load_checks(path)] == [("n", "SELECT 1", "1")]
    assert load_checks(None) == ()
    for bad in ([{"name": "n", "sql": "SELECT 1"}], [1], {"name": "n"},
                [{"name": "n", "sql": "x", "expect": "1"}] * 2):  # fmt: skip
        path.write_text(json.dumps(bad))
        with pytest.raises(RunError):
            load_checks(path)


def test_the_result_validates_as_the_operator_reads_it() -> None:
    adapter = TypeAdapter(RestoreResult)
    result = RestoreResult(
        ok=True, mode="replace", tables=5, rows=10, target_schema="tenant_acme",  # type: ignore[arg-type]
        checks=(CheckResult(name="n", passed=True, value="1", expected="1"),),
    )  # fmt: skip
    parsed = adapter.validate_json(result.to_json())
    assert (parsed.previous_schema, parsed.checks[0].passed) == (None, True)
    failed = json.loads(result.to_json()) | {"ok": False, "missing": ["x"] * 9, "missingTotal": 9}
    with pytest.raises(ValidationError):
        adapter.validate_python(failed)
    with pytest.raises(ValueError, match="names its target"):
        RestoreResult(ok=True)
