"""Leader election's decisions: expiry by observed age only, claims and releases, the holder
always stopping before anyone else may take over, and timings that could not guarantee it
refused."""

from datetime import UTC, datetime, timedelta

import pytest

from tenant_backup.core.election import (
    InvalidTimingError,
    LeaseRecord,
    Timing,
    acting_until,
    claim,
    held_by_another,
    observe,
    release,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TIMING = Timing()


def record(holder: str = "a", renewed: int = 0) -> LeaseRecord:
    return LeaseRecord(holder, 15, T0, T0 + timedelta(seconds=renewed), 0)


def test_client_go_defaults() -> None:
    assert (TIMING.lease_duration, TIMING.renew_deadline, TIMING.retry_period) == (15, 10, 2)


@pytest.mark.parametrize(
    ("lease", "deadline", "retry"),
    [(10, 10, 2), (15, 2.4, 2), (15, 10, 0)],
    ids=["deadline-not-shorter-than-lease", "deadline-within-jitter", "no-retry-period"],
)
def test_unsafe_timings_are_refused(lease: float, deadline: float, retry: float) -> None:
    with pytest.raises(InvalidTimingError):
        Timing(lease, deadline, retry)


def test_a_lease_expires_by_its_age_as_observed_not_by_its_renew_time() -> None:
    # Renewed long ago by the holder's clock: still valid until observed unchanged 15 s.
    seen = observe(None, record(renewed=-3600), now=100.0)
    assert held_by_another(seen, "b", now=114.9)
    assert not held_by_another(seen, "b", now=115.0)


def test_a_renewal_restarts_the_observed_age_and_an_unchanged_read_does_not() -> None:
    seen = observe(None, record(), now=100.0)
    assert observe(seen, record(), now=110.0) is seen
    renewed = observe(seen, record(renewed=2), now=110.0)
    assert renewed.since == 110.0
    assert held_by_another(renewed, "b", now=124.0)


def test_our_own_or_a_released_lease_is_never_held_by_another() -> None:
    assert not held_by_another(observe(None, record("b"), 0.0), "b", now=0.0)
    assert not held_by_another(observe(None, record(""), 0.0), "b", now=0.0)


def test_claims_create_renew_and_take_over() -> None:
    later = T0 + timedelta(seconds=30)
    created = claim(None, "a", T0, TIMING)
    assert created == LeaseRecord("a", 15, T0, T0, 0)
    renewed = claim(created, "a", later, TIMING)
    assert (renewed.acquire_time, renewed.renew_time, renewed.transitions) == (T0, later, 0)
    taken = claim(renewed, "b", later, TIMING)
    assert taken == LeaseRecord("b", 15, later, later, 1)


def test_a_fractional_lease_duration_is_rounded_up_never_down() -> None:
    assert claim(None, "a", T0, Timing(10.2, 10.1, 2)).lease_duration_seconds == 11


def test_a_release_leaves_no_holder() -> None:
    released = release(record("a"), T0)
    assert (released.holder, released.lease_duration_seconds) == ("", 1)
    assert not held_by_another(observe(None, released, 0.0), "b", now=0.0)


def test_the_holder_stops_acting_before_another_replica_can_take_over() -> None:
    """The worst case: a standby reads the renewal the instant it is sent."""
    renewal_started = 50.0
    standby_seen = observe(None, record(renewed=2), now=renewal_started)
    first_takeover = standby_seen.since + standby_seen.record.lease_duration_seconds
    stops = acting_until(renewal_started, TIMING)
    assert stops < first_takeover
    assert first_takeover - stops == TIMING.lease_duration - TIMING.renew_deadline
