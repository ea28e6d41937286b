"""Pure: every schedule's children of one kind (its runs, its drills) as last seen, by
(namespace, schedule), kept from the informer's changes; thread-safe."""

from collections.abc import Callable, Mapping
from threading import Lock
from typing import Any, Generic, Protocol, TypeVar

from tenant_backup.schedule.runs import schedule_of

Key = tuple[str, str]


class Child(Protocol):
    """A schedule's child as the schedule sees it."""

    @property
    def name(self) -> str: ...
    @property
    def looks(self) -> tuple[object, ...]: ...


C = TypeVar("C", bound=Child)


class Book(Generic[C]):
    """The children `read` makes of an object (None: not a child of this kind)."""

    def __init__(self, read: Callable[[Mapping[str, Any]], C | None]) -> None:
        self._read = read
        self._lock = Lock()
        self._children: dict[Key, dict[str, C]] = {}
        self._schedule: dict[Key, str] = {}
        """Each child's schedule, by (namespace, name)."""

    def of(self, schedule: Key) -> list[C]:
        """The schedule's children now."""
        with self._lock:
            return list(self._children.get(schedule, {}).values())

    def record(self, namespace: str, name: str, body: Mapping[str, Any] | None) -> Key | None:
        """An object as it is now (`body`; None: gone). The schedule to decide again, if
        any: one of its children appeared, went, or changed how it looks to it."""
        schedule = schedule_of(body) if body is not None else None
        child = self._read(body) if body is not None and schedule is not None else None
        with self._lock:
            before = self._schedule.pop((namespace, name), None)
            old = self._children.get((namespace, before), {}).pop(name, None) if before else None
            if schedule is None or child is None:
                return (namespace, before) if before else None
            self._schedule[namespace, name] = schedule
            self._children.setdefault((namespace, schedule), {})[name] = child
        if before != schedule or old is None or old.looks != child.looks:
            return namespace, schedule
        return None
