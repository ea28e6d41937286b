"""What every kind's pass over one object shares: the clock, where Events go, writing the
planned status only over the object as it was read (then its Events), and reading the
object's Jobs (their pods only for an attempt that finished and is not recorded yet)."""

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, Self, TypeVar

from tenant_backup.adapters.kube import Body, Kube
from tenant_backup.api.attempts import AttemptStatus
from tenant_backup.api.kinds import Kind
from tenant_backup.api.meta import ObjectMeta
from tenant_backup.core.events import Event
from tenant_backup.core.observe import ObservedJob, observe_job

EventSink = Callable[[Body, Event], None]
Clock = Callable[[], datetime]
WakeAt = datetime | None
"""When a pass wants the object looked at again; None: when something happens."""
CONFLICT_RETRY = timedelta(seconds=1)
"""How soon a pass that lost a write race is repeated."""


def utc_now() -> datetime:
    """The reconcile clock: UTC, whole seconds, like Kubernetes timestamps."""
    return datetime.now(UTC).replace(microsecond=0)


class Driven(Protocol):
    """An object a pass drives (a TenantBackup, a TenantRestore)."""

    @property
    def metadata(self) -> ObjectMeta: ...
    @property
    def status(self) -> AttemptStatus: ...
    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with `update` applied (pydantic's)."""
        ...


class Planned(Protocol):
    """What a pass decided: the status to write and the Events to post once it is written."""

    @property
    def status(self) -> AttemptStatus: ...
    @property
    def events(self) -> list[Event]: ...


D = TypeVar("D", bound=Driven)


def record(
    kube: Kube, kind: Kind, body: Body, driven: D, plan: Planned, post_event: EventSink
) -> tuple[WakeAt, D]:
    """Write the planned status if it changed and nobody wrote meanwhile; then its Events.
    When to look again, and the object as last written."""
    if plan.status == driven.status:
        return plan.status.next_attempt_time, driven
    written = kube.write_status(kind, driven.metadata, plan.status)
    if not written:
        return utc_now() + CONFLICT_RETRY, driven
    for event in plan.events:
        post_event(body, event)
    return plan.status.next_attempt_time, driven.model_copy(update={"status": plan.status})


def owned_by(job: Body, uid: str) -> bool:
    """Whether `job` (created, or found under its name) is the object's with `uid`, not a
    deleted namesake's."""
    owners = [ref["uid"] for ref in job["metadata"].get("ownerReferences", [])]
    return owners == [uid]


def observe_jobs(
    kube: Kube, namespace: str, jobs: list[Body], status: AttemptStatus
) -> list[ObservedJob]:
    """`jobs` as observed, with pods read only for finished attempts `status` does not
    record yet."""
    recorded = {record.attempt for record in status.attempt_history}
    observed = []
    for job in jobs:
        shallow = observe_job(job, [])
        if shallow is None:
            continue
        if shallow.finish is not None and shallow.attempt not in recorded:
            pods = kube.list_job_pods(namespace, shallow.name)
            shallow = observe_job(job, pods) or shallow
        observed.append(shallow)
    return observed
