"""`make bench-scale`: the operator with thousands of TenantBackups on the local control plane.

Starts the control plane (KWOK moves the pods: `scale_cluster` says what a "dump" is here),
a PostgreSQL holding one schema per tenant (the operator's preflight connects to it), and
for each `--objects N` a fresh namespace and operator process (as the ServiceAccount of
`manifests/`, with metrics served and no debug logging as the Deployment runs it, `--slots`
Jobs at most at once, the default 15 s resync), then:

1. idle: the operator's RSS with nothing to serve, then 100 TenantBackupSchedules (yearly,
   so they stay idle);
2. burst: N TenantBackups created at once (tenants round-robin, so the per-tenant rule never
   holds one back); dumps end `--dump-seconds` after they start until 90% have finished:
   RSS with N present (90% finished, 10% queued or running); then all finish;
3. restart: the operator restarted with all N finished; RSS once it is quiet again;
4. trickle: `--trickle` more TenantBackups, one every 0.5 s, each finding a free slot;
5. failover: a second operator stands by on the Lease; the leader is SIGKILLed and one more
   TenantBackup created at once: the time from the kill to its Job (the Lease expiring,
   the standby taking over and resuming with the N objects present).

Measured: RSS (VmRSS, and VmHWM the peak) from /proc; apply-to-Job from the audit log (the
TenantBackup's creation to its Job's, both on the API server's clock) for the trickle (a
slot free, nothing queued) and for the burst's first `--slots` backups (a slot free, but N
arriving at once); slot-freed-to-next-Job from the bench's watches: the i-th backup turning
Succeeded frees the slot the (slots + i)-th Job takes; the operator's API requests (audit
log, watches left out) from the burst's start to its end, per backup finished.

Usage (from the repo root): PYTHONPATH=.:operator .venv/bin/python tools/bench/scale.py
[--objects N ...] [--slots 50] [--dump-seconds 1] [--trickle 30] [--minutes 20]
[--operator-code CHECKOUT]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import scale_audit as audit
from kubernetes import client
from psycopg import sql
from scale_cluster import Dumps, Timeline

from devenv import backup_objects
from devenv.cluster import Cluster
from devenv.postgres import PostgresServer
from devenv.processes import free_port
from devenv.waiting import wait_for
from tenant_backup.api.kinds import GROUP, TENANT_BACKUP, VERSION
from tenant_backup.core.policy import ALLOWED_TENANTS_ANNOTATION, ANY_TENANT
from tests.support.egress import LOOPBACK_ALLOWED_CIDRS
from tests.support.operator_fixtures import CRD_NAMES, CRDS
from tests.support.operator_process import OperatorProcess
from tests.support.operator_rbac import NAMESPACE as OPERATOR_NAMESPACE
from tests.support.operator_rbac import USERNAME, install_identity

DATABASE = "bench"
SCHEDULES = 100
MIB = 1024
QUIET_SECONDS = 5.0


@dataclass
class Result:
    """One row of the table."""

    objects: int
    idle_kib: int = 0
    with_n_kib: int = 0
    peak_kib: int = 0
    restart_kib: int = 0
    trickle: tuple[float | None, float | None] = (None, None)
    burst_first: tuple[float | None, float | None] = (None, None)
    refill: tuple[float | None, float | None] = (None, None)
    requests_per_backup: float = 0.0
    failover_seconds: float | None = None
    restart_requests: int = 0
    burst_seconds: float = 0.0
    breakdown: tuple[str, ...] = ()
    note: str = ""


def memory(pid: int) -> tuple[int, int]:
    """VmRSS and VmHWM of a process, KiB."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_quiet(pid: int, timeout: float = 600) -> None:
    """Until the process used under 2% of a CPU over QUIET_SECONDS."""

    def quiet() -> bool:
        before = cpu_seconds(pid)
        time.sleep(QUIET_SECONDS)
        return cpu_seconds(pid) - before < 0.02 * QUIET_SECONDS

    wait_for(quiet, timeout, "the operator never settled", interval=0)


class Bench:
    """The control plane, the database and the operator's identity, shared by every N."""

    def __init__(self, workdir: Path, args: argparse.Namespace) -> None:
        self.workdir = workdir
        self.args = args
        self.cluster = Cluster.start(workdir / "cluster")
        self.api = self.cluster.api_client()
        self.pg = PostgresServer()
        self.pg.start()
        self.pg.create_database(DATABASE)
        for tenant in self.tenants():
            self.pg.execute(
                sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(f"tenant_{tenant}")), DATABASE
            )
        self.cluster.kubectl("apply", "--server-side", "-k", str(CRDS))
        for crd in CRD_NAMES:
            self.cluster.kubectl(
                "wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s"
            )
        self.kubeconfig = install_identity(self.cluster, workdir / "operator.kubeconfig")
        self.audit_offset = 0
        self.audit_inode: int | None = None
        self.running: OperatorProcess | None = None

    def tenants(self) -> list[str]:
        """Two tenants per slot: backups of one tenant, taken round-robin, are twice the
        slots apart, so none waits for its own tenant's previous backup (with one per
        slot, each queued backup waited for that one's finish, not for any slot)."""
        return [f"b{n:03}" for n in range(2 * self.args.slots)]

    def stop(self) -> None:
        """Stop the last operator, the database and the control plane."""
        if self.running is not None:
            self.running.stop()
        self.pg.destroy()
        self.cluster.stop()

    def requests_since_mark(self) -> list[audit.Request]:
        """Audit-logged requests since the last call."""
        log = self.cluster.audit_log
        assert log is not None
        requests: list[audit.Request] = []
        inode = log.stat().st_ino
        if self.audit_inode is not None and inode != self.audit_inode:
            # Rotated (every 100 MB) since the last call: the rest of the file read last, then
            # every file rotated after it, then the new log from its start.
            rotated = sorted(log.parent.glob(f"{log.stem}-*{log.suffix}"))
            inodes = [path.stat().st_ino for path in rotated]
            first = inodes.index(self.audit_inode) if self.audit_inode in inodes else len(rotated)
            for n, path in enumerate(rotated[first:]):
                found, _ = audit.read_requests(path, self.audit_offset if n == 0 else 0)
                requests.extend(found)
            self.audit_offset = 0
        self.audit_inode = inode
        found, self.audit_offset = audit.read_requests(log, self.audit_offset)
        return requests + found

    def namespace(self, objects: int) -> str:
        """A fresh namespace allowed any tenant, with the database Secret and the claim."""
        name = f"scale-{objects}-{int(time.time())}"
        body = {
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": name, "annotations": {ALLOWED_TENANTS_ANNOTATION: ANY_TENANT}},
        }  # fmt: skip
        self.cluster.kubectl("create", "-f", "-", input=json.dumps(body))
        data = {
            "host": self.pg.host, "port": str(self.pg.port), "dbname": DATABASE,
            "username": self.pg.superuser.user, "password": self.pg.superuser.password,
        }  # fmt: skip
        backup_objects.create_secret(self.cluster.kubectl, name, backup_objects.SECRET_NAME, data)
        backup_objects.create_bound_claim(self.cluster.kubectl, name, self.workdir / name)
        return name

    def operator(self, namespace: str, log_name: str, replica: int = 0) -> OperatorProcess:
        """An operator process serving `namespace` (replica `replica` of those electing a
        leader on the namespace's Lease), started and healthy (a standby serves its health
        endpoint too)."""
        settings = {
            "TENANT_BACKUP_LEASE_NAMESPACE": OPERATOR_NAMESPACE,
            "TENANT_BACKUP_LEASE_NAME": f"bench-{namespace}",
            "POD_ID": f"{namespace}-operator-{replica}",
            "TENANT_BACKUP_RESYNC_SECONDS": "15",
            "TENANT_BACKUP_MAX_RUNNING_JOBS": str(self.args.slots),
            "TENANT_BACKUP_MAX_RUNNING_JOBS_PER_SERVER": str(self.args.slots),
            "TENANT_BACKUP_DENIED_CIDRS": ",".join(LOOPBACK_ALLOWED_CIDRS),
        }
        if self.args.operator_code:
            settings["PYTHONPATH"] = str(Path(self.args.operator_code, "operator").resolve())
        # As the Deployment runs it: metrics served, no debug logging.
        process = OperatorProcess(self.kubeconfig, [namespace], self.workdir / log_name, settings)
        process.args = [
            "operator",
            f"--namespace={namespace}",
            f"--liveness={process.health_url}",
            f"--metrics-port={free_port()}",
        ]
        process.start()
        self.running = process
        wait_for(lambda: _healthy(process.health_url), 60, "the operator never became healthy")
        return process

    def create_all(self, namespace: str, manifests: list[dict[str, Any]]) -> None:
        """Create the objects at once (8 clients in parallel)."""
        custom = client.CustomObjectsApi(self.api)

        def create(body: dict[str, Any]) -> None:
            plural = (
                "tenantbackupschedules"
                if body["kind"].endswith("Schedule")
                else TENANT_BACKUP.plural
            )
            custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body)

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(create, manifests))

    def burst_measures(self, result: Result, names: list[str], timeline: Timeline) -> None:
        """Latencies and requests of the burst, from the audit log since the mark and the
        watches; requests are per backup finished."""
        burst = self.requests_since_mark()
        applied = audit.created(burst, f"{GROUP}/{TENANT_BACKUP.plural}")
        jobs = audit.created(burst, "batch/jobs", USERNAME)
        first = {name: applied[name] for name in names[: self.args.slots] if name in applied}
        result.burst_first = _p50_p99(audit.apply_to_job(first, jobs, timeline.job_of))
        freed = [timeline.finished[name] for name in names if name in timeline.finished]
        job_times = [
            timeline.job_seen[timeline.job_of[name]] for name in names if name in timeline.job_of
        ]
        refills = audit.refill_latencies(freed, job_times, self.args.slots)
        result.refill = _p50_p99(refills[: len(names) - self.args.slots])
        counts = audit.operator_requests(burst, USERNAME)
        done = max(1, len(freed))
        result.requests_per_backup = sum(counts.values()) / done
        result.breakdown = tuple(audit.per_backup(counts, done))

    def run(self, objects: int) -> Result:
        """Every phase for `objects` TenantBackups."""
        result = Result(objects)
        namespace = self.namespace(objects)
        tenants = self.tenants()
        operator = self.operator(namespace, f"operator-{objects}.log")
        wait_quiet(operator.pid)
        result.idle_kib = memory(operator.pid)[0]
        print(f"[{objects}] idle RSS {result.idle_kib / MIB:.0f} MiB", flush=True)
        self.create_all(namespace, [_schedule(f"s{n:03}", tenants[0]) for n in range(SCHEDULES)])

        timeline = Timeline(self.api, namespace)
        burst_budget = objects * 9 // 10
        dumps = Dumps(self.api, namespace, self.args.dump_seconds, burst_budget)
        wait_quiet(operator.pid)
        self.requests_since_mark()
        started = time.time()
        names = [f"tb{n:05}" for n in range(objects)]
        self.create_all(
            namespace,
            [
                backup_objects.manifest(name, tenants[n % len(tenants)])
                for n, name in enumerate(names)
            ],
        )
        print(f"[{objects}] {objects} created in {time.time() - started:.0f} s", flush=True)
        finished = f"[{objects}] finished"
        completed = _wait_count(timeline.finished_count, burst_budget, finished, self.args.minutes)
        if completed:
            time.sleep(QUIET_SECONDS)
        result.with_n_kib, _ = memory(operator.pid)
        print(
            f"[{objects}] RSS with {objects} present {result.with_n_kib / MIB:.0f} MiB", flush=True
        )
        if completed:
            dumps.raise_budget(objects)
            completed = _wait_count(timeline.finished_count, objects, finished, self.args.minutes)
        result.burst_seconds = time.time() - started
        result.peak_kib = memory(operator.pid)[1]
        self.burst_measures(result, names, timeline)
        if not completed:
            result.note = (
                f"gave up: {timeline.finished_count()} of {objects} finished after "
                f"{result.burst_seconds / 60:.0f} min (RSS with N taken then)"
            )
            operator.stop()
            return result

        operator.stop()
        operator = self.operator(namespace, f"operator-{objects}-restart.log")
        wait_quiet(operator.pid)
        result.restart_kib = memory(operator.pid)[0]
        result.restart_requests = sum(
            audit.operator_requests(self.requests_since_mark(), USERNAME).values()
        )
        print(f"[{objects}] RSS after a restart {result.restart_kib / MIB:.0f} MiB", flush=True)

        trickle = [f"late{n:03}" for n in range(self.args.trickle)]
        dumps.raise_budget(objects + len(trickle))
        for n, name in enumerate(trickle):
            self.create_all(namespace, [backup_objects.manifest(name, tenants[n % len(tenants)])])
            time.sleep(0.5)
        _wait_count(timeline.finished_count, objects + len(trickle), finished, self.args.minutes)
        late = self.requests_since_mark()
        applied = audit.created(late, f"{GROUP}/{TENANT_BACKUP.plural}")
        jobs = audit.created(late, "batch/jobs", USERNAME)
        result.trickle = _p50_p99(audit.apply_to_job(applied, jobs, timeline.job_of))
        result.failover_seconds = self.failover(namespace, operator, objects, timeline, dumps)
        return result

    def failover(
        self,
        namespace: str,
        leader: OperatorProcess,
        objects: int,
        timeline: Timeline,
        dumps: Dumps,
    ) -> float | None:
        """Seconds from SIGKILLing the leader to the Job of a backup created right then, with
        a standby waiting on the Lease (None: no Job within `--minutes`)."""
        standby = self.operator(namespace, f"operator-{objects}-standby.log", replica=1)
        wait_for(lambda: "standing by" in standby.logs(), 60, "the standby never stood by")
        dumps.raise_budget(dumps.budget + 1)
        leader.kill()
        killed = time.time()
        self.create_all(namespace, [backup_objects.manifest("failover", self.tenants()[0])])
        ran = _wait_count(lambda: int("failover" in timeline.job_of), 1, "failover", 5)
        standby.stop()
        return timeline.job_seen[timeline.job_of["failover"]] - killed if ran else None


def _healthy(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (our own)
            return bool(response.status == 200)
    except OSError:
        return False


def _wait_count(count: Callable[[], int], target: int, label: str, minutes: float) -> bool:
    """Until `count()` reaches `target` (True) or `minutes` pass (False), printing progress
    every 30 s."""
    last = started = time.monotonic()
    while (now := count()) < target:
        if time.monotonic() - started > minutes * 60:
            return False
        if time.monotonic() - last > 30:
            print(f"{label}: {now}/{target}", flush=True)
            last = time.monotonic()
        time.sleep(0.5)
    return True


def _p50_p99(values: list[float]) -> tuple[float | None, float | None]:
    return audit.percentile(values, 0.5), audit.percentile(values, 0.99)


def _schedule(name: str, tenant: str) -> dict[str, Any]:
    """A yearly schedule (idle during the bench) of one tenant."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "TenantBackupSchedule",
        "metadata": {"name": name},
        "spec": {
            "schedule": "0 0 1 1 *",
            "tenants": [tenant],
            "template": {
                "database": {"secretRef": {"name": backup_objects.SECRET_NAME}},
                "destination": {"pvc": {"claimName": backup_objects.CLAIM_NAME, "path": "s"}},
            },
        },
    }


def _seconds(pair: tuple[float | None, ...]) -> str:
    return "/".join("-" if v is None else f"{v:.2f}" for v in pair)


def table(results: list[Result]) -> str:
    """The results, one row per N, and each N's commonest requests per backup."""
    header = (
        f"{'objects':>7} | {'RSS idle':>8} | {'RSS with N':>10} | {'peak':>6} | "
        f"{'after restart':>13} | {'apply->Job p50/p99 s':>20} | {'burst first slots':>17} | "
        f"{'slot freed->next Job p50/p99 s':>30} | {'requests/backup':>15} | "
        f"{'failover s':>10}"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        lines.append(
            f"{r.objects:>7} | {r.idle_kib / MIB:>4.0f} MiB | {r.with_n_kib / MIB:>6.0f} MiB | "
            f"{r.peak_kib / MIB:>2.0f} MiB | {r.restart_kib / MIB:>9.0f} MiB | "
            f"{_seconds(r.trickle):>20} | {_seconds(r.burst_first):>17} | "
            f"{_seconds(r.refill):>30} | {r.requests_per_backup:>15.1f} | "
            f"{_seconds((r.failover_seconds,))[:10]:>10}"
        )
    for r in results:
        lines.append(
            f"\n{r.objects} objects: burst done in {r.burst_seconds:.0f} s; the operator's "
            f"requests per backup during it (watches left out), commonest first; "
            f"{r.restart_requests} requests on the restart:"
        )
        lines.extend(f"  {line}" for line in r.breakdown)
        if r.note:
            lines.append(f"  {r.note}")
    return "\n".join(lines)


def main() -> int:
    """Set up, run each N, print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, nargs="+", default=[500, 5000])
    parser.add_argument(
        "--slots", type=int, default=50, help="max running Jobs (total and per server)"
    )
    parser.add_argument("--dump-seconds", type=float, default=1.0)
    parser.add_argument("--trickle", type=int, default=30)
    parser.add_argument(
        "--operator-code",
        help="run the operator from this checkout (e.g. a worktree of main, for a baseline)",
    )
    parser.add_argument(
        "--minutes", type=float, default=20, help="give up on a phase after this long"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop what was started
    workdir = Path(tempfile.mkdtemp(prefix="tenant-backup-scale-"))
    bench = Bench(workdir, args)
    results = []
    try:
        for objects in args.objects:
            results.append(bench.run(objects))
            print(table(results), flush=True)
    finally:
        bench.stop()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\n{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.1f}\n{table(results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
