"""`make bench-scale`'s arithmetic, pure: the API server's audit log read from an offset,
latencies and their percentiles, and the operator's requests counted per backup."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

WATCH = "watch"


@dataclass(frozen=True)
class Request:
    """One API request, as the audit log records it (Metadata level)."""

    at: float
    """When it completed (UNIX seconds, the API server's clock)."""
    user: str
    verb: str
    resource: str
    """`group/resource[/subresource]`, or the URL path of a non-resource request."""
    namespace: str
    name: str
    code: int


def read_requests(log: Path, offset: int = 0) -> tuple[list[Request], int]:
    """The requests logged after byte `offset` (complete lines only), and the offset after
    the last complete line."""
    requests = []
    with log.open("rb") as stream:
        stream.seek(offset)
        for line in stream:
            if not line.endswith(b"\n"):
                break
            offset += len(line)
            if line.strip():
                requests.append(_request(json.loads(line)))
    return requests, offset


def _request(event: Mapping[str, Any]) -> Request:
    ref = event.get("objectRef") or {}
    if "resource" in ref:
        resource = "/".join(
            part for part in (ref.get("apiGroup", ""), ref["resource"], ref.get("subresource"))
            if part
        )  # fmt: skip
    else:
        resource = event.get("requestURI", "").split("?")[0]
    return Request(
        at=datetime.fromisoformat(event["stageTimestamp"]).timestamp(),
        user=event.get("user", {}).get("username", ""),
        verb=event["verb"],
        resource=resource,
        namespace=ref.get("namespace", ""),
        name=ref.get("name", ""),
        code=int(event.get("responseStatus", {}).get("code", 0)),
    )


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile (`fraction` 0.5 for the median), None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))  # ceil
    return ordered[int(rank) - 1]


def created(
    requests: Iterable[Request], resource: str, user: str | None = None
) -> dict[str, float]:
    """When each object of `resource` was created (201), by name; by `user` if given."""
    return {
        r.name: r.at
        for r in requests
        if r.verb == "create" and r.resource == resource and r.code == 201
        and (user is None or r.user == user)
    }  # fmt: skip


def apply_to_job(
    applied: Mapping[str, float], jobs: Mapping[str, float], job_of: Mapping[str, str]
) -> list[float]:
    """Seconds from each backup's creation to its first Job's (backups without one left
    out). `job_of` maps a backup's name to its first Job's name."""
    return [jobs[job_of[name]] - at for name, at in applied.items() if job_of.get(name) in jobs]


def refill_latencies(freed: Sequence[float], started: Sequence[float], slots: int) -> list[float]:
    """Seconds from each slot freed to the next queued Job created. With `slots` slots all
    taken by the first Jobs, the i-th slot freed is refilled by Job `slots + i` (in order
    of creation), as long as backups wait: freed times beyond the Jobs are left out."""
    freed, started = sorted(freed), sorted(started)
    refills = started[slots:]
    return [max(0.0, job - free) for free, job in zip(freed, refills, strict=False)]


def operator_requests(requests: Iterable[Request], user: str) -> Counter[str]:
    """The operator's requests by `verb resource`, watches left out (one per stream, long)."""
    return Counter(f"{r.verb} {r.resource}" for r in requests if r.user == user and r.verb != WATCH)


def per_backup(counts: Counter[str], backups: int, top: int = 8) -> Iterator[str]:
    """The most frequent requests, each as a count per backup."""
    for key, count in counts.most_common(top):
        yield f"{count / max(1, backups):6.2f}  {key}"
