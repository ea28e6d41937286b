"""Pure: what a backup's Jobs and their pods say, reduced to what reconcile needs."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tenant_backup.core import naming

Body = Mapping[str, Any]


@dataclass(frozen=True)
class Termination:
    """How the dump container of a finished pod ended."""

    exit_code: int | None
    reason: str | None
    message: str | None
    pod_reason: str | None
    """The pod's own reason, e.g. `Evicted`."""


@dataclass(frozen=True)
class JobFinish:
    """A finished Job: its condition, and its pod's termination if one is left."""

    succeeded: bool
    reason: str | None
    """The Job's Complete/Failed condition reason, e.g. `DeadlineExceeded`."""
    message: str | None
    time: datetime
    termination: Termination | None


@dataclass(frozen=True)
class ObservedJob:
    """One attempt's Job."""

    name: str
    attempt: int
    owner_uid: str | None
    start_time: datetime | None
    finish: JobFinish | None
    """None while the Job runs."""


def parse_time(value: str | None) -> datetime | None:
    """An API timestamp, or None."""
    return datetime.fromisoformat(value) if value else None


def observe_job(job: Body, pods: Iterable[Body]) -> ObservedJob | None:
    """Reduce a Job and its pods; None for a Job that is not one of our attempts."""
    metadata = job.get("metadata", {})
    attempt_label = metadata.get("labels", {}).get(naming.LABEL_ATTEMPT, "")
    if not attempt_label.isdigit():
        return None
    owners = [ref for ref in metadata.get("ownerReferences", []) if ref.get("controller")]
    status = job.get("status", {})
    return ObservedJob(
        name=metadata["name"],
        attempt=int(attempt_label),
        owner_uid=owners[0]["uid"] if owners else None,
        start_time=parse_time(status.get("startTime")),
        finish=_finish(status, pods),
    )


def _finish(status: Body, pods: Iterable[Body]) -> JobFinish | None:
    for condition in status.get("conditions", []):
        if condition.get("status") != "True" or condition.get("type") not in (
            "Complete",
            "Failed",
        ):
            continue
        time = (
            parse_time(condition.get("lastTransitionTime"))
            or parse_time(status.get("completionTime"))
            or parse_time(condition.get("lastProbeTime"))
        )
        if time is None:
            continue
        return JobFinish(
            succeeded=condition["type"] == "Complete",
            reason=condition.get("reason"),
            message=condition.get("message"),
            time=time,
            termination=_termination(pods),
        )
    return None


def _termination(pods: Iterable[Body]) -> Termination | None:
    """The termination of the most recently created finished pod, if any."""
    finished = [
        pod for pod in pods if pod.get("status", {}).get("phase") in ("Succeeded", "Failed")
    ]
    if not finished:
        return None
    pod = max(finished, key=lambda p: p.get("metadata", {}).get("creationTimestamp", ""))
    status = pod.get("status", {})
    terminated: Body = {}
    for container in status.get("containerStatuses", []):
        terminated = container.get("state", {}).get("terminated") or {}
        if terminated:
            break
    return Termination(
        exit_code=terminated.get("exitCode"),
        reason=terminated.get("reason"),
        message=terminated.get("message"),
        pod_reason=status.get("reason"),
    )
