"""The concurrency gate: admissions one at a time, and its own starts and releases kept until
a copy of the indexes made after them shows them (never by a clock)."""

import itertools
import threading
import time

import pytest

from tenant_backup.api.attempts import AttemptStatus, Phase
from tenant_backup.api.reasons import Reason
from tenant_backup.core.gate import Gate, Slots, Snapshot
from tenant_backup.core.scheduling import Entry, Limits, State
from tests.unit.test_scheduling import entry


def gate() -> Gate:
    return Gate(Limits(total=1, per_server=1))


def copy(*entries: Entry) -> Snapshot:
    """A copy of the indexes made now, showing `entries`."""
    return Snapshot.take(lambda: entries)


def start(gate: Gate, candidate: Entry, snapshot: Snapshot) -> None:
    with gate.admission(candidate, snapshot) as ticket:
        assert ticket.verdict.allowed
        ticket.started = True


RUNNING = AttemptStatus(phase=Phase.RUNNING, attempts=1)
QUEUED = AttemptStatus(phase=Phase.PENDING, reason=Reason.QUEUED)
SUCCEEDED = AttemptStatus(phase=Phase.SUCCEEDED, attempts=1)


def test_gate_remembers_a_start_until_the_index_shows_it() -> None:
    slots = gate()
    start(slots, entry(1), copy(entry(1), entry(2)))
    assert not slots.peek(entry(2), copy(entry(1), entry(2))).allowed  # the index: b01 waits
    with slots.admission(entry(2), copy(entry(1, State.ACTIVE), entry(2))) as ticket:
        assert not ticket.verdict.allowed
    assert slots.peek(entry(2), copy(entry(2))).allowed  # b01 finished: its slot is free


def test_a_start_is_kept_however_long_the_index_lags(monkeypatch: pytest.MonkeyPatch) -> None:
    minutes = itertools.count(0, 60.0)
    monkeypatch.setattr(time, "monotonic", lambda: next(minutes))  # a minute per reading
    slots = gate()
    start(slots, entry(1), copy(entry(1), entry(2)))
    for _ in range(1000):  # no clock: a thousand newer copies still showing b01 waiting
        with slots.admission(entry(2), copy(entry(1), entry(2))) as ticket:
            assert not ticket.verdict.allowed
    assert not slots.peek(entry(2), copy(entry(2), entry(1))).allowed


def test_a_start_that_left_the_index_is_dropped() -> None:
    slots = gate()
    start(slots, entry(1), copy(entry(1), entry(2)))
    with slots.admission(entry(2), copy(entry(1), entry(2))) as ticket:  # shown since: waits
        assert not ticket.verdict.allowed
    stale = copy(entry(1), entry(2))
    with slots.admission(entry(2), copy(entry(2))) as ticket:  # gone: finished, or deleted
        assert ticket.verdict.allowed
    assert not slots.peek(entry(3), stale).allowed  # b02 took the slot


def test_a_start_counts_for_a_pass_whose_copy_of_the_index_predates_it() -> None:
    slots = gate()
    stale = copy(entry(2))  # made before b01 arrived
    with slots.admission(entry(1), copy(entry(1), entry(2))) as ticket:
        assert ticket.verdict.allowed
        with slots.admission(entry(2), stale) as other:
            assert not other.verdict.allowed
        ticket.started = True
    assert not slots.peek(entry(2), stale).allowed
    with slots.admission(entry(2), copy(entry(1), entry(2))) as ticket:  # shown since
        assert not ticket.verdict.allowed
    with slots.admission(entry(2), stale) as ticket:  # older than that: proves nothing
        assert not ticket.verdict.allowed


def test_a_retry_counts_while_the_index_shows_neither_it_nor_its_previous_attempt() -> None:
    slots = gate()
    before = copy(entry(1, State.ACTIVE), entry(2))  # attempt 1 running
    slots.release(entry(1).key)  # its backoff was written: out of the index
    start(slots, entry(1), copy(entry(2)))  # attempt 2, when its backoff ended
    assert not slots.peek(entry(2), copy(entry(2))).allowed  # its running status is not shown yet
    assert not slots.peek(entry(2), before).allowed
    with slots.admission(entry(2), copy(entry(1, State.ACTIVE), entry(2))) as ticket:
        assert not ticket.verdict.allowed  # the index shows attempt 2 now
    assert not slots.peek(entry(2), copy(entry(1, State.ACTIVE), entry(2))).allowed


def test_a_released_slot_is_free_before_the_index_shows_it_and_taken_again_by_a_retry() -> None:
    slots = gate()
    running = copy(entry(1, State.ACTIVE), entry(2))
    assert not slots.peek(entry(2), running).allowed
    slots.release(entry(1).key)  # its finish was written; the index still shows it running
    assert slots.peek(entry(2), running).allowed
    assert slots.peek(entry(2), copy(entry(1, State.ACTIVE), entry(2))).allowed  # however long
    assert slots.admissible(running) == [entry(2)]
    start(slots, entry(1), copy(entry(1), entry(2)))  # b01's next attempt
    with slots.admission(entry(2), copy(entry(1, State.ACTIVE), entry(2))) as ticket:
        assert not ticket.verdict.allowed  # the release went with the new start


def test_a_release_is_dropped_once_a_newer_copy_no_longer_shows_it_running() -> None:
    slots = gate()
    stale = copy(entry(1, State.ACTIVE), entry(2))
    slots.release(entry(1).key)
    with slots.admission(entry(2), stale) as ticket:  # an older copy: kept
        assert ticket.verdict.allowed
    assert slots.peek(entry(3), copy(entry(3))).allowed
    with slots.admission(entry(3), copy(entry(3))) as ticket:  # caught up: dropped
        assert ticket.verdict.allowed  # and given back, unstarted
    assert not slots.peek(entry(3), copy(entry(1, State.ACTIVE), entry(3))).allowed


def test_a_slot_is_taken_at_admission_and_the_gate_is_free_while_the_caller_acts() -> None:
    slots = gate()
    index = copy(entry(1), entry(2))
    verdicts = []

    def another_thread() -> None:
        with slots.admission(entry(2), index) as ticket:
            verdicts.append(ticket.verdict.allowed)

    with slots.admission(entry(1), index) as ticket:
        assert ticket.verdict.allowed
        other = threading.Thread(target=another_thread)
        other.start()
        other.join(timeout=5)  # not blocked behind the Job creation
        assert verdicts == [False]  # the last slot is already taken
        assert not slots.peek(entry(2), index).allowed
        ticket.started = True
    assert not slots.peek(entry(2), copy(entry(1), entry(2))).allowed  # held until shown


def test_a_slot_not_started_is_given_back_and_the_queue_woken() -> None:
    wakes: list[None] = []
    slots = Slots(gate(), copy(entry(1), entry(2)), on_release=lambda: wakes.append(None))
    with slots.admission(entry(1)) as ticket:
        assert ticket.verdict.allowed
        assert not slots.peek(entry(2)).allowed
    assert wakes == [None]
    assert slots.peek(entry(1)).allowed  # free again
    with slots.admission(entry(1)) as ticket:
        assert ticket.verdict.allowed
        ticket.started = True
    assert wakes == [None]  # started: nothing given back
    assert not slots.peek(entry(2)).allowed


def test_a_slot_given_back_on_an_error_wakes_the_queue_and_keeps_an_earlier_release() -> None:
    wakes: list[None] = []
    the_gate = gate()
    running = copy(entry(1, State.ACTIVE), entry(2))
    slots = Slots(the_gate, running, on_release=lambda: wakes.append(None))
    the_gate.release(entry(1).key)  # its backoff was written; the index still shows it running
    with pytest.raises(RuntimeError), slots.admission(entry(1)):  # its retry fails to start
        raise RuntimeError("the API server went away")
    assert wakes == [None]
    assert the_gate.peek(entry(2), running).allowed  # b01's slot is still free


def test_a_finish_recorded_releases_the_slot_and_wakes_the_queue() -> None:
    wakes: list[None] = []
    the_gate = gate()
    slots = Slots(the_gate, copy(entry(1), entry(2)), on_release=lambda: wakes.append(None))
    start(the_gate, entry(1), slots.snapshot)
    slots.recorded(entry(1).key, QUEUED, QUEUED)  # a write that changed nothing of its slot
    assert (wakes, the_gate.peek(entry(2), copy(entry(2))).allowed) == ([], False)
    # Its running status was never written (a lost race), and the pass after it found the
    # Job finished: the start it still counted goes.
    slots.recorded(entry(1).key, QUEUED, SUCCEEDED)
    assert wakes == [None]
    assert the_gate.peek(entry(2), copy(entry(2))).allowed


def test_a_finish_recorded_of_a_running_object_releases_only_then() -> None:
    wakes: list[None] = []
    the_gate = gate()
    slots = Slots(the_gate, copy(entry(1, State.ACTIVE)), on_release=lambda: wakes.append(None))
    slots.recorded(entry(1).key, QUEUED, SUCCEEDED)  # failed its checks: held no slot
    assert wakes == []
    slots.recorded(entry(1).key, RUNNING, SUCCEEDED)
    assert wakes == [None]
    assert the_gate.peek(entry(2), copy(entry(1, State.ACTIVE), entry(2))).allowed


def test_a_deleted_object_is_forgotten() -> None:
    slots = gate()
    start(slots, entry(1), copy(entry(2)))  # not shown yet
    slots.forget(entry(1).key)
    assert slots.peek(entry(2), copy(entry(2))).allowed


def test_a_release_outlives_the_object_for_copies_that_still_show_it_running() -> None:
    slots = gate()
    stale = copy(entry(1, State.ACTIVE), entry(2))
    slots.release(entry(1).key)  # finished
    slots.forget(entry(1).key)  # then settled: out of the watch, as if deleted
    assert slots.peek(entry(2), stale).allowed


def test_peek_reserves_nothing() -> None:
    slots = gate()
    index = copy(entry(1), entry(2))
    assert slots.peek(entry(1), index).allowed
    assert slots.peek(entry(1), index).allowed  # still free: nothing was taken
    assert not slots.peek(entry(2), index).allowed  # b01 is older and waits


def test_an_object_turned_away_is_reported() -> None:
    denied: list[tuple[str, str, str]] = []
    slots = Slots(gate(), copy(entry(1), entry(2)), on_denied=denied.append)
    assert slots.peek(entry(1)).allowed
    assert not slots.peek(entry(2)).allowed
    with slots.admission(entry(1)) as ticket:
        ticket.started = True
    with slots.admission(entry(2)) as ticket:
        assert not ticket.verdict.allowed
    assert denied == [entry(2).key, entry(2).key]
