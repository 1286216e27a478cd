"""A bounded least-recently-used cache (by entries, or by a weight such as bytes)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """Least recently used first out, bounded by `capacity` units: entries, or with `weigh` the
    sum of each value's weight (bytes, say). A value heavier than the whole capacity is kept
    alone until the next one comes."""

    def __init__(self, capacity: int, on_evict: Callable[[V], None] | None = None,
                 weigh: Callable[[V], int] | None = None) -> None:
        self.capacity = capacity
        self.on_evict = on_evict
        self._weigh = weigh
        self._items: OrderedDict[K, V] = OrderedDict()
        self._weights: dict[K, int] = {}
        self.weight = 0

    def get(self, key: K, make: Callable[[], V]) -> V:
        try:
            self._items.move_to_end(key)
            return self._items[key]
        except KeyError:
            value = make()
            self._items[key] = value
            weight = self._weigh(value) if self._weigh is not None else 1
            self._weights[key] = weight
            self.weight += weight
            while self.weight > self.capacity and len(self._items) > 1:
                old_key, old = self._items.popitem(last=False)
                self.weight -= self._weights.pop(old_key)
                if self.on_evict is not None:
                    self.on_evict(old)
            return value

    def discard(self, keep: Callable[[K], bool]) -> None:
        """Drop every entry whose key `keep` refuses (no on_evict: the caller is wiping, not reusing)."""
        for key in [k for k in self._items if not keep(k)]:
            del self._items[key]
            self.weight -= self._weights.pop(key)

    def entries(self) -> list[tuple[K, V]]:
        return list(self._items.items())

    def clear(self) -> None:
        """Evict everything (on_evict sees each value: a display's layer surface is reused)."""
        values = list(self._items.values())
        self._items.clear()
        self._weights.clear()
        self.weight = 0
        if self.on_evict is not None:
            for value in values:
                self.on_evict(value)

    def __len__(self) -> int:
        return len(self._items)


def freeze(value: Any) -> Hashable:
    """A hashable copy of view data for the layer cache key."""
    if isinstance(value, dict):
        return tuple(sorted(((str(k), freeze(v)) for k, v in value.items()), key=lambda kv: kv[0]))
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, set | frozenset):
        return frozenset(freeze(v) for v in value)
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value
