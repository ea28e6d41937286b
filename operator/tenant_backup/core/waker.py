"""In-process wake-ups: call back for a key at a time, from a few worker threads.

The operator wakes an object when what it waits for happens (a backoff expiring, a write
conflict to retry) instead of at the next periodic resync. A key has at most one wake-up
pending, the earliest asked for. Wake-ups live in memory only: after a restart, the handlers
of the objects listed at start-up and the resync visit every unfinished object anyway.

Wake-ups run in copies of the context of the first call (a Kopf handler's: what it carries,
Kopf's settings and Event queue, is the same for every object), so a pending wake-up holds
nothing of the object that asked for it: a burst of thousands queued costs a key each.

`sweep` is the periodic resync: one thread wakes every key a function names, in turn, instead
of a timer (and a task, and a copy of the object) per object.

A key is taken off the queue only when a worker is free to run it, so the order of the queue
holds while it is long: a wake-up asked for with `first` (a slot that freed: the queued object
that can take it) runs before every other due one, not behind a backlog of passes already
handed to the workers.
"""

import contextvars
import heapq
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
WORKERS = 4
FIRST = 0.0
"""The time a `first` wake-up is due at: before any other."""


class Waker(Generic[K]):
    """Calls `wake(key)` once each key's time has come."""

    def __init__(self, wake: Callable[[K], None], clock: Callable[[], float] = time.time) -> None:
        self._wake = wake
        self._clock = clock
        self._due: dict[K, float] = {}
        self._context: contextvars.Context | None = None
        self._heap: list[tuple[float, int, K]] = []
        self._counter = 0
        self._changed = threading.Condition()
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="wake")
        self._idle = threading.Semaphore(WORKERS)
        self._sweeping = False
        threading.Thread(target=self._run, name="waker", daemon=True).start()

    def sweep(self, seconds: float, keys: Callable[[], Iterable[K]]) -> None:
        """From now on, every `seconds`, wake each key `keys()` names then. The first call
        starts it (later calls do nothing)."""
        with self._changed:
            if self._sweeping:
                return
            self._sweeping = True
            self._keep_context()
        threading.Thread(
            target=self._sweep, args=(seconds, keys), name="sweep", daemon=True
        ).start()

    def _sweep(self, seconds: float, keys: Callable[[], Iterable[K]]) -> None:
        while True:
            time.sleep(seconds)
            for key in keys():
                self.soon(key)

    def at(self, key: K, when: datetime) -> None:
        """Wake `key` at `when` (or earlier, if an earlier wake-up is pending)."""
        self._schedule(key, when.timestamp())

    def soon(self, key: K) -> None:
        """Wake `key` now."""
        self._schedule(key, self._clock())

    def first(self, key: K) -> None:
        """Wake `key` now, before every other key due (in the order asked, among these)."""
        self._schedule(key, FIRST)

    def _schedule(self, key: K, stamp: float) -> None:
        with self._changed:
            if key in self._due and self._due[key] <= stamp:
                return
            self._due[key] = stamp
            self._keep_context()
            self._counter += 1
            heapq.heappush(self._heap, (stamp, self._counter, key))
            self._changed.notify()

    def _run(self) -> None:
        while True:
            self._idle.acquire()  # a worker is free: only now choose the key it runs
            with self._changed:
                key = self._next_due()
                context = self._context
            assert context is not None  # kept by the call that scheduled the key
            self._pool.submit(context.copy().run, self._run_one, key)

    def _run_one(self, key: K) -> None:
        try:
            self._wake(key)
        finally:
            self._idle.release()

    def _keep_context(self) -> None:
        """Keep the caller's context for the wake-ups, the first time; called locked."""
        if self._context is None:
            self._context = contextvars.copy_context()

    def _next_due(self) -> K:
        """Wait for the earliest wake-up that is still pending and due; called locked."""
        while True:
            if not self._heap:
                self._changed.wait()
                continue
            stamp, _, key = self._heap[0]
            if self._due.get(key) != stamp:  # superseded by an earlier one, or already woken
                heapq.heappop(self._heap)
                continue
            delay = stamp - self._clock()
            if delay > 0:
                self._changed.wait(delay)
                continue
            heapq.heappop(self._heap)
            del self._due[key]
            return key
