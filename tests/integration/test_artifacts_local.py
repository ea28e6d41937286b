"""Artifact files (a local path or a claim's): read back in chunks, corruption and absence
told apart, deleted; a killed runner's temp file removed by the next run; modes that let
another user of the pod's group (a restore or prune Job) read and delete what the runner
wrote."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import psycopg
import pytest

from devenv.tenants import Database
from devenv.waiting import wait_for
from tenant_backup.api.contract import FileLocation, PvcLocation
from tenant_backup.runner.destinations import delete
from tenant_backup.runner.destinations.access import Access
from tenant_backup.runner.destinations.base import AlreadyGone
from tenant_backup.runner.destinations.local import LocalUpload
from tests.support.artifacts import assert_round_trip, payload, read_failure, sha256, write
from tests.support.dump_runs import run_dump

TENANT_BACKUP = Path(sys.executable).with_name("tenant-backup")
FS_GROUP = 65530  # the pod's fsGroup: the group every Job of the namespace's backups shares
OTHER_UID = 65533  # a restore or prune Job's user: not the runner's, in the same fsGroup


def _written(path: Path, data: bytes) -> None:
    write(LocalUpload(path, path.as_uri()), data)


@pytest.mark.parametrize("kind", ["file", "pvc"])
def test_round_trip(tmp_path: Path, kind: str) -> None:
    data = payload(300_001)
    path = tmp_path / "claim" / "team-a" / "acme.pgdump.zst"
    _written(path, data)
    if kind == "pvc":
        location: FileLocation | PvcLocation = PvcLocation("backups", "team-a/acme.pgdump.zst")
    else:
        location = FileLocation(PurePosixPath(path))
    assert_round_trip(location, Access(pvc_root=tmp_path / "claim"), data, chunk_size=4096)
    assert not path.exists()


def test_a_missing_file_is_not_found(tmp_path: Path) -> None:
    location = PvcLocation("backups", "nowhere/acme.pgdump.zst")
    error = read_failure(location, Access(pvc_root=tmp_path), "a" * 64)
    assert (error.reason, error.message) == (
        "ArtifactNotFound",
        "cannot open pvc://backups/nowhere/acme.pgdump.zst: No such file or directory",
    )


def test_changed_bytes_are_corrupt(tmp_path: Path) -> None:
    data = payload(70_000)
    path = tmp_path / "acme.pgdump.zst"
    _written(path, data)
    with path.open("r+b") as file:
        file.seek(50_000)
        file.write(b"\x00")
    location = FileLocation(PurePosixPath(path))
    error = read_failure(location, Access(), sha256(data))
    assert error.reason == "ArtifactCorrupt"
    assert error.message.startswith(f"{path.as_uri()}: sha256 ")
    assert error.message.endswith(f", expected {sha256(data)}")
    path.write_bytes(data[:-1])
    assert read_failure(location, Access(), sha256(data)).reason == "ArtifactCorrupt"


def test_a_pvc_url_needs_the_claims_mount() -> None:
    error = read_failure(PvcLocation("backups", "a.dump"), Access(), "a" * 64)
    assert (error.reason, error.message) == (
        "ValidationFailed",
        "pvc://backups/a.dump: the claim's mount is unknown",
    )


# --- the runner: a killed run's temp file, and file modes ----------------------------------


def _env(db: Database) -> dict[str, str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    return {**clean, **db.env()}


def _argv(output: Path, result_file: Path, *args: str) -> list[str]:
    return [
        str(TENANT_BACKUP), "dump", "--tenant", "acme", "--output", str(output),
        "--result-file", str(result_file), *args,
    ]  # fmt: skip


def _waiting_for_a_lock(db: Database) -> bool:
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
        " AND application_name = 'pg_dump' AND wait_event_type = 'Lock'"
    )
    with psycopg.connect(db.dsn()) as conn:
        row = conn.execute(query, (db.dbname,)).fetchone()
    return row is not None and row[0] > 0


def _kill_mid_dump(db: Database, argv: list[str]) -> None:
    """Start the runner, and SIGKILL it (and, as its container's end would, its pg_dump)
    while pg_dump waits for a lock another session holds."""
    with psycopg.connect(db.dsn()) as locker:
        locker.execute("LOCK TABLE tenant_acme.orders IN ACCESS EXCLUSIVE MODE")
        proc = subprocess.Popen(
            argv, env=_env(db), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            wait_for(lambda: _waiting_for_a_lock(db), 30, "pg_dump never waited for the lock")
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
            proc.kill()
            for child in children:
                os.kill(int(child), signal.SIGKILL)
        finally:
            proc.kill()
            proc.communicate()
    assert proc.returncode == -signal.SIGKILL


def test_the_next_run_removes_a_killed_runs_temp_file(tenant_db: Database, tmp_path: Path) -> None:
    claim = tmp_path / "claim"
    claim.mkdir()
    output, result_file = claim / "acme.pgdump.zst", tmp_path / "result.json"
    others = [claim / ".acme.pgdump.zst.other", claim / ".acme-2.pgdump.zst.partial-k3j4h5g6"]
    for path in others:
        path.write_bytes(b"not this run's")
    argv = _argv(output, result_file, "--lock-wait-timeout-seconds", "120")
    _kill_mid_dump(tenant_db, argv)
    (partial,) = claim.glob(".acme.pgdump.zst.partial-*")
    assert not output.exists()

    run = run_dump(argv, _env(tenant_db), result_file, [tenant_db.backup.password])
    assert run.returncode == 0, run.stderr
    assert f"removed {partial}, left by an earlier run" in run.stderr
    assert not partial.exists()
    assert sorted(claim.iterdir()) == sorted([output, *others])
    assert run.result["artifact"]["sha256"] == sha256(output.read_bytes())


@pytest.fixture
def claim() -> Iterator[Path]:
    """A directory as the kubelet prepares a claim for a pod's fsGroup: group FS_GROUP,
    g+rwx, setgid; where other users may reach it (pytest's temp directories are 0700)."""
    path = Path(tempfile.mkdtemp(prefix="claim-"))
    try:
        os.chown(path, 0, FS_GROUP)
        path.chmod(0o2770)
        yield path
    finally:
        shutil.rmtree(path)


def _as_other_user(command: str, groups: list[int]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", "-c", command], user=OTHER_UID, group=OTHER_UID, extra_groups=groups,
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip


@pytest.mark.skipif(os.geteuid() != 0, reason="runs commands as other users")
def test_another_user_of_the_group_reads_and_deletes_what_the_runner_wrote(
    shared_tenant_db: Database, claim: Path
) -> None:
    output, result_file = claim / "team-a" / "acme" / "acme.pgdump.zst", claim / "result.json"
    completed = subprocess.run(
        _argv(output, result_file), env=_env(shared_tenant_db), umask=0o077,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    for directory in (claim / "team-a", output.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o2770  # whatever the umask
        assert directory.stat().st_gid == FS_GROUP  # setgid: the group carries down
    assert stat.S_IMODE(output.stat().st_mode) == 0o640
    assert output.stat().st_gid == FS_GROUP

    stranger = _as_other_user(f"cat {output} > /dev/null", [])
    assert "Permission denied" in stranger.stderr
    digest = sha256(output.read_bytes())
    member = _as_other_user(f"sha256sum < {output} && rm {output}", [FS_GROUP])
    assert member.returncode == 0, member.stderr
    assert member.stdout.split()[0] == digest
    assert not output.exists()
    assert delete(FileLocation(PurePosixPath(output)), Access()) == AlreadyGone()
