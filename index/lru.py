"""A thread-safe LRU cache whose misses are loaded together, outside the lock (one query, one batch)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BatchLRU(Generic[K, V]):
    """`get_many(keys)` answers from memory what it holds and loads the rest with one
    `load(missing)` call; at most `size` entries are kept, the least recently used dropped first."""

    def __init__(self, size: int, load: Callable[[list[K]], Mapping[K, V]]) -> None:
        self.size = size
        self._load = load
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[K]:
        """Least recently used first."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def get_many(self, keys: Sequence[K]) -> dict[K, V]:
        with self._lock:
            found = {key: self._entries[key] for key in keys if key in self._entries}
            for key in found:
                self._entries.move_to_end(key)
        missing = [key for key in dict.fromkeys(keys) if key not in found]
        if missing:
            loaded = self._load(missing)
            found.update(loaded)
            with self._lock:
                self._entries.update(loaded)
                while len(self._entries) > self.size:
                    self._entries.popitem(last=False)
        return found
