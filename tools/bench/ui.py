"""`make bench-ui`: how long the UI's overview takes to render for many tenants and backups.

For each size (tenants/backups; default 50/500 as the baseline and 500/5,000), builds the
TenantBackup list as the API server returns it (realistic objects: spec, status, artifact,
conditions, attempt history; one schedule per ten tenants, with its status) and times, in
this process, what the UI does with it for one page view: decoding the list responses'
JSON, building the overview's rows, rendering overview.html, and encoding the JSON twin the
page's script polls. The API server's own list time is not included (see `make bench-scale`
for the cluster side). Prints the median of `--repeats` runs of each step, and each size's
total as a ratio to the baseline's.

Usage (from the repo root):
PYTHONPATH=.:operator .venv/bin/python tools/bench/ui.py [--sizes 50/500,500/5000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tenant_backup.ui import overview
from tenant_backup.ui.context import templates
from tenant_backup.ui.pages import overview_context, tenant_json_rows

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
NAMESPACES = ("team-a", "team-b", "team-c", "team-d")


def backup(n: int, tenants: int) -> dict[str, Any]:
    """The n-th TenantBackup: tenant n % tenants (ten tenants a namespace in turn), one a
    day back per round, every 7th Failed."""
    tenant = f"tenant_{n % tenants:04d}"
    created = NOW - timedelta(days=n // tenants, minutes=n % 60)
    stamp = created.isoformat().replace("+00:00", "Z")
    done = (created + timedelta(seconds=30 + n % 90)).isoformat().replace("+00:00", "Z")
    failed = n % 7 == 0
    condition = {
        "type": "Failed" if failed else "Complete",
        "status": "True",
        "reason": "DumpFailed" if failed else "Succeeded",
        "message": "pg_dump exited 1" if failed else "archive verified",
        "lastTransitionTime": done,
    }
    status: dict[str, Any] = {
        "phase": "Failed" if failed else "Succeeded",
        "attempts": 1,
        "startTime": stamp,
        "completionTime": done,
        "conditions": [condition],
        "attemptHistory": [{"attempt": 1, "jobName": f"b{n}-1", "outcome": condition["type"]}],
    }
    if not failed:
        size = 1_000_000 + 1_000 * n
        status["artifact"] = {
            "url": f"s3://backups/{tenant}/{stamp}.dump.zst",
            "sizeBytes": size,
            "size": f"{size / 1_048_576:.1f} MiB",
            "sha256": "0" * 64,
            "format": "custom",
            "compression": "zstd",
        }
    return {
        "apiVersion": "tenantbackup.dev/v1alpha1",
        "kind": "TenantBackup",
        "metadata": {
            "name": f"{tenant.replace('_', '-')}-{n}",
            "namespace": NAMESPACES[n % tenants // 10 % len(NAMESPACES)],
            "uid": f"{n:032x}",
            "creationTimestamp": stamp,
            "labels": {"tenantbackup.dev/tenant": tenant},
        },
        "spec": {
            "tenant": tenant,
            "database": {"secretRef": {"name": "tenants-db"}},
            "destination": {"s3": {"bucket": "backups", "credentialsSecretRef": {"name": "s3"}}},
        },
        "status": status,
    }


def schedule(n: int, tenants: int) -> dict[str, Any]:
    """Schedule n: hourly, over tenants 10n..10n+9 (one namespace, as their backups)."""
    names = [f"tenant_{t:04d}" for t in range(n * 10, min(n * 10 + 10, tenants))]
    return {
        "metadata": {"name": f"s{n}", "namespace": NAMESPACES[n % len(NAMESPACES)]},
        "spec": {"schedule": "@hourly", "tenants": names, "template": {}},
        "status": {
            "lastScheduleTime": "2026-05-04T11:00:00Z",
            "nextScheduleTime": "2026-05-04T13:00:00Z",
        },
    }


def median_seconds(step: Callable[[], object], repeats: int) -> tuple[float, Any]:
    """The median wall time of `step` over `repeats` runs, and its last result."""
    times, result = [], None
    for _ in range(repeats):
        result = None  # as in the UI, one page view's objects are gone before the next
        started = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def measure(tenants: int, backups: int, repeats: int) -> dict[str, float]:
    """Seconds per step of one overview page view, and the page's size."""
    listed = json.dumps({"items": [backup(n, tenants) for n in range(backups)]})
    schedules = json.dumps({"items": [schedule(n, tenants) for n in range((tenants + 9) // 10)]})
    environment = templates()
    decode, (items, schedule_items) = median_seconds(
        lambda: (json.loads(listed)["items"], json.loads(schedules)["items"]), repeats
    )
    build, rows = median_seconds(lambda: overview.tenant_rows(items, schedule_items, NOW), repeats)
    assert len(rows) == tenants, f"{len(rows)} rows for {tenants} tenants"
    template = environment.get_template("overview.html")
    render, html = median_seconds(
        lambda: template.render(**overview_context(None, rows, list(NAMESPACES))), repeats
    )
    twin, _ = median_seconds(lambda: json.dumps(tenant_json_rows(rows)), repeats)
    return {
        "decode": decode,
        "rows": build,
        "html": render,
        "json": twin,
        "total": decode + build + render + twin,
        "kib": len(html.encode()) / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="50/500,500/5000", help="tenants/backups,...")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    sizes = [tuple(int(part) for part in size.split("/")) for size in args.sizes.split(",")]
    print(f"overview render, median of {args.repeats}, load average {os.getloadavg()[0]:.1f}")
    print(
        f"{'tenants/backups':>16} {'decode':>8} {'rows':>8} {'html':>8} {'json':>8} "
        f"{'total':>8} {'page':>9} {'x base':>7}"
    )
    baseline = None
    for tenants, backups in sizes:
        figures = measure(tenants, backups, args.repeats)
        baseline = baseline or figures["total"]
        steps = " ".join(
            f"{figures[step] * 1000:>6.0f}ms" for step in ("decode", "rows", "html", "json")
        )
        print(
            f"{tenants:>7}/{backups:<8} {steps} {figures['total'] * 1000:>6.0f}ms "
            f"{figures['kib']:>6.0f}KiB {figures['total'] / baseline:>6.1f}x"
        )


if __name__ == "__main__":
    main()
