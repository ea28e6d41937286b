"""Waking queued objects when slots free: each admissible one once, again after it was
turned away."""

import pytest

from tenant_backup import runtime
from tenant_backup.core.gate import Gate
from tenant_backup.core.scheduling import Entry, Limits, State
from tests.unit.test_scheduling import entry


@pytest.fixture
def woken(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    monkeypatch.setattr(runtime, "GATE", Gate(Limits(total=1, per_server=1)))
    monkeypatch.setattr(runtime, "_admissible", set())
    monkeypatch.setattr(runtime, "_slot_indexes", {})
    monkeypatch.setitem(runtime._wakers, entry(1).kind, keys.append)
    return keys


def index(*entries: Entry) -> None:
    """The `slots` index as the runtime reads it: these entries."""
    runtime._slot_indexes["slots"] = {"all": list(entries)}  # type: ignore[assignment]


def test_an_admissible_object_is_woken_once(woken: list[tuple[str, str]]) -> None:
    index(entry(1, State.ACTIVE), entry(2))
    runtime.wake_admissible()
    assert woken == []  # the one slot is taken
    index(entry(2))
    runtime.wake_admissible()
    runtime.wake_admissible()
    assert woken == [entry(2).ref]


def test_an_object_turned_away_is_woken_again_once_admissible(
    woken: list[tuple[str, str]],
) -> None:
    index(entry(2))
    runtime.wake_admissible()
    # Woken, its pass finds the slot taken (another start the index shows only now).
    index(entry(0, State.ACTIVE), entry(2))
    assert not runtime.slots().peek(entry(2)).allowed
    index(entry(2))
    runtime.wake_admissible()
    assert woken == [entry(2).ref, entry(2).ref]
