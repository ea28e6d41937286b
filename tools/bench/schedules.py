"""`make bench-schedules`: a TenantBackupSchedule on the local control plane (KWOK), measured.

1. Slot latency: a `* * * * *` schedule over the five tenants of a real PostgreSQL, listed by
   name, then `["*"]` (the schemas are listed at each slot), no spread window, the concurrency
   limits raised to 10. For each of `--slots` consecutive slots, every child Job's creation
   minus the slot time, three ways: the operator's log line after the Job's POST (Kopf's
   `full` format, milliseconds), the API server's `creationTimestamp` (whole seconds) and a
   watch on this side (arrival); the child TenantBackups' arrival too (the schedule's share).
   No dump runs: once KWOK has a pod Running, this script has KWOK end it as a failed dump,
   so every run is finished before the next slot (concurrencyPolicy Forbid).
2. Memory: the operator's VmRSS and VmHWM (/proc/<pid>/status) and open sockets (mostly
   connections to the API server) idle; with `--schedules` schedules of five tenants each
   (`0 0 1 1 *`: none fires); with a quarter of `--runs` finished runs each, then all of them
   (TenantBackups labelled as the schedule's runs that fail their preflight at once: Secret
   missing). Each figure once the operator idles again.

Everything runs on this script's own control plane and PostgreSQL; each part gets a fresh
namespace and operator process (`tenant-backup operator --namespace=...`, as its Deployment
runs it, with the admin kubeconfig and the default resync; `--verbose` for part 1 only), and
loopback allowed so that the preflight reaches the database.

Usage (from the repo root, as root: PostgreSQL runs as its own user):
PYTHONPATH=.:operator .venv/bin/python tools/bench/schedules.py [--slots N] [--schedules N]
[--runs N] [--only latency|memory] [--keep]
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from kubernetes import client, watch
from psycopg import sql

from devenv import backup_objects as tb
from devenv.cluster import Cluster
from devenv.cluster_config import EXIT_CODE_ANNOTATION, MESSAGE_ANNOTATION
from devenv.kubectl import KubectlError
from devenv.paths import REPO
from devenv.postgres import PostgresServer
from devenv.processes import free_port, http_ok
from devenv.tenants import Database, clone_tenants, create_tenant_template
from devenv.waiting import WaitTimeoutError, wait_for
from tenant_backup.api.kinds import GROUP, TENANT_BACKUP, TENANT_BACKUP_SCHEDULE, VERSION
from tenant_backup.api.reasons import Reason
from tenant_backup.api.result import DumpResult
from tenant_backup.core import naming
from tenant_backup.schedule.children import child_name
from tenant_backup.settings import DEFAULT_DENIED_CIDRS

Body = dict[str, Any]
CLI = Path(sys.executable).with_name("tenant-backup")
CRDS = REPO / "crds"
SCHEDULE = "minutely"
EXTRA_TENANT = "initech"  # tenants.sql has four slug tenants; the fifth is added
LISTED = ["acme", "acme_eu", "acmex", "globex", EXTRA_TENANT]
EVERY_TENANT = ["*"]
LIMITS = {"TENANT_BACKUP_MAX_RUNNING_JOBS": "10", "TENANT_BACKUP_MAX_RUNNING_JOBS_PER_SERVER": "10"}
LEAD_SECONDS = 15
"""A schedule is applied at least this long before its first slot (the operator settles)."""
GRACE_SECONDS = 45
"""How long after the last slot its Jobs may take before they count as missing."""
QUIET_CPU_SHARE = 0.05
"""The operator is quiet when it used less than this share of a core over QUIET_WINDOW."""
QUIET_WINDOW = 5.0
NEVER = "0 0 1 1 *"
MISSING_SECRET = "absent"  # noqa: S105 (a Secret's name)
JOB_POST = re.compile(
    r"^\[(?P<at>[0-9-]+ [0-9:]+,[0-9]{3})\] "
    r'.*"POST /apis/batch/v1/namespaces/[^/]+/jobs HTTP/1.1" 201'
)
FAILED_DUMP = DumpResult(
    ok=False, reason=Reason.DUMP_FAILED, retryable=False, message="bench: no dump is run"
).to_message()


def loopback_allowed() -> str:
    """The operator's default denied ranges without loopback (the database is on it)."""
    loopback = ipaddress.ip_network("127.0.0.0/8")
    return ",".join(c for c in DEFAULT_DENIED_CIDRS if ipaddress.ip_network(c) != loopback)


# --- the operator as a process ---


class Operator:
    """`tenant-backup operator` serving one namespace, logging to a file; its /proc figures."""

    def __init__(
        self, kubeconfig: Path, namespace: str, log_file: Path, verbose: bool, env: dict[str, str]
    ) -> None:
        self.log_file = log_file
        health = f"http://127.0.0.1:{free_port()}/healthz"
        argv = [str(CLI), "operator", f"--liveness={health}", f"--namespace={namespace}"]
        argv += ["--verbose", "--log-format=full"] if verbose else []
        environ = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            "TENANT_BACKUP_DENIED_CIDRS": loopback_allowed(),
            "TENANT_BACKUP_LEADER_ELECTION": "false",  # one process: nothing to elect
            "PYTHONSAFEPATH": "1",
            **env,
        }
        with log_file.open("ab") as log:
            self.proc = subprocess.Popen(
                argv,
                env=environ,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for(lambda: http_ok(health, None), 120, "its health", ignore=(OSError,))
        except BaseException:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise

    def memory_kib(self) -> tuple[int, int]:
        """VmRSS and VmHWM, KiB."""
        fields = dict(
            line.split(":", 1)
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines()
        )
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])

    def sockets(self) -> int:
        """Open sockets (its connections to the API server, mostly)."""
        fds = Path(f"/proc/{self.proc.pid}/fd").iterdir()
        return sum(1 for fd in fds if os.readlink(fd).startswith("socket:"))

    def cpu_seconds(self) -> float:
        """User and system CPU time so far."""
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text()
        utime, stime = stat.rsplit(")", 1)[1].split()[11:13]
        return (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")

    def wait_quiet(self, timeout: float = 300) -> float:
        """Wait until the operator idles; seconds waited."""
        started = time.monotonic()

        def quiet() -> bool:
            before = self.cpu_seconds()
            time.sleep(QUIET_WINDOW)
            return self.cpu_seconds() - before < QUIET_CPU_SHARE * QUIET_WINDOW

        wait_for(quiet, timeout, "the operator to idle", interval=0)
        return time.monotonic() - started

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a grace period."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


@contextmanager
def operator(
    cluster: Cluster, namespace: str, workdir: Path, verbose: bool, **env: str
) -> Iterator[Operator]:
    """An operator for the block (`env`: TENANT_BACKUP_* settings)."""
    log_file = workdir / f"operator-{namespace}.log"
    process = Operator(cluster.kubeconfig, namespace, log_file, verbose, env)
    try:
        yield process
    finally:
        process.stop()


# --- watching ---


class Arrivals:
    """The wall-clock time this side first saw each object of a namespaced list (a watch in a
    daemon thread), with the object as first seen; `on_event` sees every object event."""

    def __init__(
        self,
        list_call: Callable[..., Any],
        *args: str,
        on_event: Callable[[Body], None] | None = None,
    ) -> None:
        self.first: dict[str, tuple[float, Body]] = {}
        self.errors: list[str] = []
        self._call = partial(list_call, *args)
        self._on_event = on_event
        self._watch = watch.Watch()  # type: ignore[no-untyped-call]
        self._stop = threading.Event()
        self._ready = threading.Event()
        threading.Thread(target=self._loop, daemon=True).start()
        self._ready.wait(10)

    def _loop(self) -> None:
        version: str | None = None
        while not self._stop.is_set():
            try:
                if version is None:
                    version = self._list()
                    self._ready.set()
                events = self._watch.stream(  # type: ignore[no-untyped-call]
                    self._call, resource_version=version, timeout_seconds=60
                )
                for event in events:
                    arrived, body = time.time(), event["raw_object"]
                    if event["type"] == "ERROR":  # e.g. 410 Gone: list again
                        version = None
                        break
                    version = body["metadata"]["resourceVersion"]
                    self.first.setdefault(body["metadata"]["name"], (arrived, body))
                    if self._on_event is not None:
                        self._on_event(body)
            except Exception:  # a watch that broke starts again
                self.errors.append(traceback.format_exc())
                version = None
                time.sleep(1)

    def _list(self) -> str:
        """Record what exists (after a broken watch: what it missed); its resourceVersion."""
        listing = json.loads(self._call(_preload_content=False).data)
        arrived = time.time()
        for body in listing["items"]:
            self.first.setdefault(body["metadata"]["name"], (arrived, body))
        version: str = listing["metadata"]["resourceVersion"]
        return version

    def stop(self) -> None:
        self._stop.set()
        self._watch.stop()  # type: ignore[no-untyped-call]


class PodEnder:
    """Ends every Running pod in a namespace as a failed dump (KWOK does it on an annotation)."""

    def __init__(self, core: client.CoreV1Api, namespace: str) -> None:
        self._core = core
        self._namespace = namespace
        self._ended: set[str] = set()
        self.arrivals = Arrivals(core.list_namespaced_pod, namespace, on_event=self._end)

    def _end(self, pod: Body) -> None:
        name = pod["metadata"]["name"]
        if pod.get("status", {}).get("phase") != "Running" or name in self._ended:
            return
        self._ended.add(name)
        annotations = {EXIT_CODE_ANNOTATION: "1", MESSAGE_ANNOTATION: FAILED_DUMP}
        self._core.patch_namespaced_pod(
            name, self._namespace, {"metadata": {"annotations": annotations}}
        )


# --- the cluster, the database, the namespaces ---


@dataclass
class Bench:
    """The control plane, the database and API clients shared by both parts."""

    cluster: Cluster
    db: Database
    workdir: Path
    api: client.ApiClient

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    def namespace(self, name: str) -> str:
        """A restricted namespace allowing every tenant, with its default ServiceAccount, the
        database Secret and a bound claim `backups`."""
        kubectl = self.cluster.kubectl
        kubectl("apply", "-f", "-", input=json.dumps(tb.restricted_namespace(name, "*")))
        wait_for(
            lambda: kubectl("get", "-n", name, "sa", "default", check=False).returncode == 0,
            60,
            f"ServiceAccount {name}/default",
        )
        tb.create_db_secret(kubectl, name, self.db)
        tb.create_bound_claim(kubectl, name, self.workdir / f"claim-{name}")
        return name

    def create(self, namespace: str, plural: str, body: Body) -> None:
        self.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, plural, body)

    def items(self, namespace: str, plural: str) -> list[Body]:
        found: Any = self.custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, plural, _preload_content=False
        )
        items: list[Body] = json.loads(found.data)["items"]
        return items


def start_cluster(workdir: Path) -> Cluster:
    """The control plane with the CRDs Established."""
    cluster = Cluster.start(workdir / "cluster")
    cluster.kubectl("apply", "--server-side", "-k", str(CRDS))
    for kind in (TENANT_BACKUP, TENANT_BACKUP_SCHEDULE):
        wait_for(
            partial(
                cluster.kubectl,
                "wait",
                "--for=condition=Established",
                f"crd/{kind.plural}.{GROUP}",
                "--timeout=30s",
            ),
            60,
            f"the CRD of {kind.kind}",
            ignore=(KubectlError,),
        )
    return cluster


def start_database(pg: PostgresServer) -> Database:
    """The test tenants, and a fifth: five tenant schemas."""
    pg.start()
    db = clone_tenants(pg, create_tenant_template(pg), "bench")
    statement = sql.SQL(
        "CREATE SCHEMA {schema} AUTHORIZATION {owner};"
        "CREATE TABLE {schema}.notes AS SELECT g AS id FROM generate_series(1, 100) AS g;"
        "ALTER TABLE {schema}.notes OWNER TO {owner};"
    )
    schema, owner = sql.Identifier(f"tenant_{EXTRA_TENANT}"), sql.Identifier(db.backup.user)
    pg.execute(statement.format(schema=schema, owner=owner), db.dbname)
    return db


# --- part 1: slot latency ---


def schedule_manifest(name: str, cron: str, tenants: list[str], secret: str) -> Body:
    """A schedule whose runs dump into claim `backups`, one attempt each."""
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": TENANT_BACKUP_SCHEDULE.kind,
        "metadata": {"name": name},
        "spec": {
            "schedule": cron,
            "tenants": tenants,
            "template": {
                "database": {"secretRef": {"name": secret}},
                "destination": {"pvc": {"claimName": tb.CLAIM_NAME, "path": "scheduled"}},
                "retry": {"maxAttempts": 1},
            },
        },
    }


@dataclass(frozen=True)
class SlotTimes:
    """One slot: when each child TenantBackup and each Job appeared, seconds after the slot."""

    slot: datetime
    runs: list[float]
    """Watch arrival of each child TenantBackup."""
    jobs_api: list[float]
    """creationTimestamp of each Job (whole seconds)."""
    jobs_seen: list[float]
    """Watch arrival of each Job."""
    jobs_logged: list[float]
    """The operator's log line after each Job's POST (milliseconds)."""


def next_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0) + timedelta(minutes=1)


def sleep_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


def slot_latency(bench: Bench, label: str, tenants: list[str], slots: int) -> list[SlotTimes]:
    """`slots` consecutive slots of a minutely schedule over `tenants` in a new namespace."""
    namespace = bench.namespace(f"bench-{label}")
    batch = client.BatchV1Api(bench.api)
    selector = f"{naming.LABEL_MANAGED_BY}={naming.MANAGER}"
    with operator(bench.cluster, namespace, bench.workdir, True, **LIMITS):
        ender = PodEnder(bench.core, namespace)
        runs = Arrivals(
            bench.custom.list_namespaced_custom_object, GROUP, VERSION, namespace,
            TENANT_BACKUP.plural,
        )  # fmt: skip
        jobs = Arrivals(partial(batch.list_namespaced_job, label_selector=selector), namespace)
        try:
            now = datetime.now(UTC)
            if next_minute(now) - now < timedelta(seconds=LEAD_SECONDS):
                sleep_until(next_minute(now) + timedelta(seconds=1))
            manifest = schedule_manifest(SCHEDULE, "* * * * *", tenants, tb.SECRET_NAME)
            bench.create(namespace, TENANT_BACKUP_SCHEDULE.plural, manifest)
            first = next_minute(datetime.now(UTC))
            wanted = [first + timedelta(minutes=n) for n in range(slots)]
            for slot in wanted:
                sleep_until(slot)
                print(f"  {label}: slot {slot:%H:%M:%S} due", flush=True)
            complete = partial(_complete, runs, jobs, wanted[-1], len(LISTED))
            deadline = wanted[-1] + timedelta(seconds=GRACE_SECONDS) - datetime.now(UTC)
            try:
                wait_for(complete, deadline.total_seconds(), "the last slot's Jobs")
            except WaitTimeoutError:
                print(f"  {label}: the last slot's Jobs are not all there", flush=True)
            posts = job_posts(bench.workdir / f"operator-{namespace}.log")
            return [_slot_times(runs, jobs, posts, slot) for slot in wanted]
        finally:
            for arrivals in (ender.arrivals, runs, jobs):
                arrivals.stop()
                for error in arrivals.errors:
                    print(f"  watch error: {error}", flush=True)


def _slot_runs(runs: Arrivals, slot: datetime) -> dict[str, float]:
    """The slot's child TenantBackups: name -> arrival."""
    stamp = slot.isoformat()
    return {
        name: arrived
        for name, (arrived, body) in runs.first.items()
        if (body["metadata"].get("annotations") or {}).get(naming.ANNOTATION_SLOT) == stamp
    }


def _slot_jobs(jobs: Arrivals, run_names: set[str]) -> list[tuple[float, Body]]:
    return [
        (arrived, body)
        for arrived, body in jobs.first.values()
        if body["metadata"]["labels"].get(naming.LABEL_BACKUP) in run_names
    ]


def _complete(runs: Arrivals, jobs: Arrivals, slot: datetime, count: int) -> bool:
    return len(_slot_jobs(jobs, set(_slot_runs(runs, slot)))) >= count


def job_posts(log_file: Path) -> list[float]:
    """When the operator's client logged a Job created (urllib3's debug line, after the
    response), from the log's timestamps (Kopf's `full` format, local time)."""
    posts = []
    for line in log_file.read_text(errors="replace").splitlines():
        found = JOB_POST.match(line)
        if found:
            at = datetime.strptime(found["at"], "%Y-%m-%d %H:%M:%S,%f").astimezone()
            posts.append(at.timestamp())
    return posts


def _slot_times(runs: Arrivals, jobs: Arrivals, posts: list[float], slot: datetime) -> SlotTimes:
    started = slot.timestamp()
    logged = [at - started for at in posts if started <= at < started + 60]
    children = _slot_runs(runs, slot)
    found = _slot_jobs(jobs, set(children))
    created = [
        datetime.fromisoformat(body["metadata"]["creationTimestamp"]).timestamp() - started
        for _, body in found
    ]
    return SlotTimes(
        slot,
        sorted(arrived - started for arrived in children.values()),
        sorted(created),
        sorted(arrived - started for arrived, _ in found),
        sorted(logged),
    )


# --- part 2: memory ---


@dataclass(frozen=True)
class Memory:
    """The operator's memory at one point (KiB), and how it got there."""

    label: str
    rss_kib: int
    hwm_kib: int
    sockets: int
    note: str


def memory(bench: Bench, schedules: int, runs_each: int) -> list[Memory]:
    """Idle; with `schedules` schedules; with a quarter of `runs_each` finished runs per
    schedule, then all of them (the difference is what a run costs, start-up costs aside)."""
    namespace = bench.namespace("bench-memory")
    found: list[Memory] = []
    with operator(bench.cluster, namespace, bench.workdir, False) as process:
        waited = process.wait_quiet()
        found.append(
            Memory(
                "idle",
                *process.memory_kib(),
                process.sockets(),
                f"quiet {waited:.0f} s after start",
            )
        )

        started = time.monotonic()
        names = [f"s{n:03d}" for n in range(schedules)]
        for name in names:
            manifest = schedule_manifest(name, NEVER, LISTED, MISSING_SECRET)
            bench.create(namespace, TENANT_BACKUP_SCHEDULE.plural, manifest)

        def reconciled() -> bool:
            items = bench.items(namespace, TENANT_BACKUP_SCHEDULE.plural)
            ready = [bool((s.get("status") or {}).get("nextScheduleTime")) for s in items]
            return ready.count(True) == len(names)

        wait_for(reconciled, 300, "every schedule's status", interval=1)
        took = time.monotonic() - started
        waited = process.wait_quiet()
        note = f"all reconciled {took:.0f} s after the first create; quiet {waited:.0f} s later"
        label = f"{schedules} schedules x {len(LISTED)} tenants"
        found.append(Memory(label, *process.memory_kib(), process.sockets(), note))

        slot0 = next_minute(datetime.now(UTC)) - timedelta(days=30)
        done = 0
        for upto in sorted({max(1, runs_each // 4), runs_each}):
            started = time.monotonic()
            for name in names:
                for n in range(done, upto):
                    tenant = LISTED[n % len(LISTED)]
                    run = _finished_run(name, tenant, slot0 + timedelta(hours=n))
                    bench.create(namespace, TENANT_BACKUP.plural, run)
            created = time.monotonic() - started
            done, total = upto, upto * len(names)

            def all_failed(total: int = total) -> bool:
                items = bench.items(namespace, TENANT_BACKUP.plural)
                phases = [(r.get("status") or {}).get("phase") for r in items]
                return phases.count("Failed") == total

            wait_for(all_failed, 900, f"{total} runs to fail", interval=2)
            took = time.monotonic() - started
            waited = process.wait_quiet()
            shown = _schedules_showing_runs(bench, namespace)
            note = (
                f"created in {created:.0f} s, all Failed {took:.0f} s after the first; quiet "
                f"{waited:.0f} s later; {shown}/{schedules} statuses show each tenant's last run"
            )
            label = f"+ {total} finished runs ({upto} each)"
            found.append(Memory(label, *process.memory_kib(), process.sockets(), note))
    return found


def _finished_run(schedule: str, tenant: str, slot: datetime) -> Body:
    """A run of `schedule` as the schedule would have created it, whose Secret is missing."""
    spec = schedule_manifest(schedule, NEVER, [tenant], MISSING_SECRET)["spec"]["template"]
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": TENANT_BACKUP.kind,
        "metadata": {
            "name": child_name(schedule, tenant, slot),
            "labels": {naming.LABEL_SCHEDULE: schedule, naming.LABEL_TENANT: tenant},
            "annotations": {naming.ANNOTATION_SLOT: slot.isoformat()},
        },
        "spec": {**spec, "tenant": tenant},
    }


def _schedules_showing_runs(bench: Bench, namespace: str) -> int:
    """Schedules whose status has a last run for each of their tenants."""
    count = 0
    for schedule in bench.items(namespace, TENANT_BACKUP_SCHEDULE.plural):
        states = (schedule.get("status") or {}).get("tenants") or []
        ran = {state["tenant"] for state in states if state.get("lastRun")}
        count += bool(ran >= set(schedule["spec"]["tenants"]))
    return count


# --- the report ---


def _pair(values: list[float], digits: int = 2) -> str:
    """`max / median`, or a dash."""
    if not values:
        return f"{'-':>13}"
    return f"{max(values):5.{digits}f} / {statistics.median(values):5.2f}"


def report(latency: dict[str, list[SlotTimes]], memory_figures: list[Memory]) -> str:
    """One table: slot latency per schedule kind, then the operator's memory."""
    lines = []
    if latency:
        lines += [
            "slot -> child Jobs: seconds after the slot time, max / median over every child",
            f"  {'schedule':22} {'slots':>5} {'Jobs':>6}  {'TB seen':>13}  {'Job POST (log)':>14}"
            f"  {'Job created (API)':>17}  {'Job seen':>13}  last Job seen, per slot",
        ]
        for label, slots in latency.items():
            runs = [t for s in slots for t in s.runs]
            logged = [t for s in slots for t in s.jobs_logged]
            api = [t for s in slots for t in s.jobs_api]
            seen = [t for s in slots for t in s.jobs_seen]
            per_slot = ", ".join(f"{max(s.jobs_seen):.2f}" if s.jobs_seen else "-" for s in slots)
            jobs = f"{len(seen)}/{len(slots) * len(LISTED)}"
            lines.append(
                f"  {label:22} {len(slots):5} {jobs:>6}  {_pair(runs)}  {_pair(logged):>14}"
                f"  {_pair(api, 0):>17}  {_pair(seen)}  {per_slot}"
            )
    if memory_figures:
        lines += [
            "operator memory (MiB)",
            f"  {'state':40} {'VmRSS':>7} {'VmHWM':>7} {'sockets':>7}   notes",
        ]
        for m in memory_figures:
            lines.append(
                f"  {m.label:40} {m.rss_kib / 1024:7.1f} {m.hwm_kib / 1024:7.1f} {m.sockets:7}"
                f"   {m.note}"
            )
    return "\n".join(lines)


def main() -> int:
    """Start the control plane and the database, measure, print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slots", type=int, default=3)
    parser.add_argument("--schedules", type=int, default=50)
    parser.add_argument("--runs", type=int, default=20, help="finished runs per schedule")
    parser.add_argument("--only", choices=("latency", "memory"))
    parser.add_argument("--keep", action="store_true", help="keep the work dir (operator logs)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="tenant-backup-bench-schedules-"))
    pg = PostgresServer()
    cluster: Cluster | None = None
    try:
        print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; starting ...", flush=True)
        cluster = start_cluster(workdir)
        bench = Bench(cluster, start_database(pg), workdir, cluster.api_client())
        latency: dict[str, list[SlotTimes]] = {}
        memory_figures: list[Memory] = []
        if args.only in (None, "latency"):
            latency[f"{len(LISTED)} listed tenants"] = slot_latency(
                bench, "listed", LISTED, args.slots
            )
            latency[f'["*"] ({len(LISTED)} found)'] = slot_latency(
                bench, "all", EVERY_TENANT, args.slots
            )
        if args.only in (None, "memory"):
            memory_figures = memory(bench, args.schedules, args.runs)
        print(f"load {os.getloadavg()[0]:.1f}; operator logs: {workdir}", flush=True)
        print(report(latency, memory_figures), flush=True)
    finally:
        if cluster is not None:
            cluster.stop()
        pg.destroy()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
