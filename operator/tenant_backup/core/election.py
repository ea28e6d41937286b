"""Pure: leader election on a Lease, decided the way client-go's leaderelection does it.

A candidate never trusts another replica's clock: a Lease held by someone else counts as
expired only once its record has stayed unchanged, as this replica observed it, for the
record's lease duration (monotonic time). The holder renews every retry period; it may act
only until `renew_deadline` after the start of its last successful renewal, which is earlier
than any other replica can see the Lease expire (`lease_duration` after it saw that renewal),
so two replicas never act at once.
"""

import math
from dataclasses import dataclass, replace
from datetime import datetime

JITTER = 1.2
"""client-go's JitterFactor: a renewal deadline must leave room for this many retry periods."""


class InvalidTimingError(ValueError):
    """Timings under which the holder could be overtaken before it stops acting."""


@dataclass(frozen=True)
class Timing:
    """Lease duration, renew deadline and retry period, in seconds (client-go's defaults)."""

    lease_duration: float = 15.0
    """How long a Lease unchanged since it was observed stays another replica's."""
    renew_deadline: float = 10.0
    """How long after its last successful renewal began the holder may still act."""
    retry_period: float = 2.0
    """How often the holder renews and a candidate tries to acquire."""

    def __post_init__(self) -> None:
        if self.retry_period <= 0:
            raise InvalidTimingError("the retry period must be positive")
        if self.renew_deadline <= JITTER * self.retry_period:
            raise InvalidTimingError(f"the renew deadline must exceed {JITTER} x the retry period")
        if self.lease_duration <= self.renew_deadline:
            raise InvalidTimingError("the lease duration must exceed the renew deadline")


@dataclass(frozen=True)
class LeaseRecord:
    """The fields of a `coordination.k8s.io/v1` Lease's spec that the election uses."""

    holder: str
    """holderIdentity; empty once released."""
    lease_duration_seconds: int
    acquire_time: datetime
    renew_time: datetime
    transitions: int
    """leaseTransitions: how often the holder changed."""


@dataclass(frozen=True)
class Observation:
    """A record as this replica saw it, and since when (monotonic seconds) unchanged."""

    record: LeaseRecord
    since: float


def observe(previous: Observation | None, record: LeaseRecord, now: float) -> Observation:
    """The observation after reading `record` at `now`: its age restarts when it changed."""
    if previous is not None and previous.record == record:
        return previous
    return Observation(record, now)


def held_by_another(observation: Observation, identity: str, now: float) -> bool:
    """Whether another replica holds the Lease and it has not expired as far as we know."""
    record = observation.record
    return (
        record.holder not in ("", identity)
        and now < observation.since + record.lease_duration_seconds
    )


def claim(current: LeaseRecord | None, identity: str, at: datetime, timing: Timing) -> LeaseRecord:
    """The record that makes (or keeps) `identity` the holder, written at wall time `at`:
    a renewal keeps the acquisition time, a takeover counts a transition."""
    duration = math.ceil(timing.lease_duration)  # whole seconds in a Lease: never shorter
    if current is None:
        return LeaseRecord(identity, duration, at, at, 0)
    if current.holder == identity:
        return replace(current, lease_duration_seconds=duration, renew_time=at)
    return LeaseRecord(identity, duration, at, at, current.transitions + 1)


def release(current: LeaseRecord, at: datetime) -> LeaseRecord:
    """The record a holder leaves when it stops on purpose: no holder, so a candidate takes
    over at its next try instead of after the lease duration."""
    return replace(current, holder="", lease_duration_seconds=1, renew_time=at)


def acting_until(renewal_started: float, timing: Timing) -> float:
    """Until when (monotonic) a holder may act after a renewal that began at
    `renewal_started` succeeded."""
    return renewal_started + timing.renew_deadline
