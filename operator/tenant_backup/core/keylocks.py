"""Locks by key from a fixed set: two passes over one object never overlap, and the memory
stays the same however many objects were ever driven (a lock per key grows for as long as
the operator runs, by every backup a schedule ever made)."""

import threading
from collections.abc import Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
STRIPES = 256


class KeyLocks(Generic[K]):
    """The lock of a key: always the same one for the same key, shared by a few others
    (two different keys rarely wait for each other; a pass never holds two keys)."""

    def __init__(self, stripes: int = STRIPES) -> None:
        self._locks = tuple(threading.Lock() for _ in range(stripes))

    def __getitem__(self, key: K) -> threading.Lock:
        return self._locks[hash(key) % len(self._locks)]
