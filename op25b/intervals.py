"""Intervals: a pool's merged address ranges of one family, packed into one bytes object.

Why: at 100k+100k prefixes, (start, end) tuples of Python ints cost ~110 bytes per IPv4 and
~150 per IPv6 interval: ~30 MB for one compiled policy, and a reload holds two. Packed as
big-endian records (start then end) they cost 8 and 32 bytes, in one allocation the allocator
returns whole on free, so reloads do not fragment the heap either (docs/performance.md, P5).

It reads like a tuple of (start, end) tuples: len, indexing, slicing, iteration, bisect, and
equality with any sequence of the same tuples (the kernel's parsed state is plain tuples).
Records sort as bytes exactly as their numbers do, so two packed sets compare at C speed.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain, compress, count, repeat
from operator import eq, itemgetter, le

_WIDTH = {"ipv4": 4, "ipv6": 16}
_V4 = struct.Struct(">II")
_V6_STARTS, _V6_ENDS = struct.Struct(">16s16x"), struct.Struct(">16x16s")
_FIRST = itemgetter(0)
_from_bytes = int.from_bytes


class Intervals(Sequence):
    __slots__ = ("data", "width")

    def __init__(self, width: int, data: bytes = b"") -> None:
        self.width = width  # bytes per address: 4 or 16
        self.data = data  # len(self) records of start, end

    @classmethod
    def pack(cls, family: str, intervals: Iterable[tuple[int, int]]) -> Intervals:
        """Pack sorted, merged (start, end) pairs (the caller merges: see addresses.merge)."""
        width = _WIDTH[family]
        if isinstance(intervals, Intervals):
            return intervals
        items = intervals if isinstance(intervals, list | tuple) else list(intervals)
        to_bytes = int.to_bytes
        starts = map(to_bytes, map(itemgetter(0), items), repeat(width), repeat("big"))
        ends = map(to_bytes, map(itemgetter(1), items), repeat(width), repeat("big"))
        return cls(width, b"".join(chain.from_iterable(zip(starts, ends, strict=True))))

    def __len__(self) -> int:
        return len(self.data) // (2 * self.width)

    def __getitem__(self, index):
        record = 2 * self.width
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step == 1:
                return Intervals(self.width, self.data[start * record:max(start, stop) * record])
            return tuple(self[i] for i in range(start, stop, step))
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("Intervals index out of range")
        offset, width = index * record, self.width
        return (_from_bytes(self.data[offset:offset + width], "big"),
                _from_bytes(self.data[offset + width:offset + record], "big"))

    def __iter__(self) -> Iterator[tuple[int, int]]:
        if self.width == 4:
            return _V4.iter_unpack(self.data)
        # Two C-level passes (starts, ends) zipped: no Python code runs per interval.
        starts = map(_from_bytes, map(_FIRST, _V6_STARTS.iter_unpack(self.data)), repeat("big"))
        ends = map(_from_bytes, map(_FIRST, _V6_ENDS.iter_unpack(self.data)), repeat("big"))
        return zip(starts, ends, strict=True)

    def __reversed__(self) -> Iterator[tuple[int, int]]:
        return reversed(list(self))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Intervals):
            return self.width == other.width and self.data == other.data or not (self or other)
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return len(self) == len(other) and all(map(eq, self, other))
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))  # equal to the tuple it equals

    def __repr__(self) -> str:
        head = ", ".join(map(str, self[:3]))
        return f"Intervals([{head}{', …' if len(self) > 3 else ''}], {len(self)} intervals)"

    def common_ends(self, other: Intervals) -> tuple[int, int]:
        """How many leading and trailing records two packed sets share, found by comparing bytes
        (binary search over memcmp), not by building tuples: a one-prefix change at 100k costs
        microseconds here."""
        record, shortest = 2 * self.width, min(len(self), len(other))
        a, b = memoryview(self.data), memoryview(other.data)
        low, high = 0, shortest
        while low < high:  # the longest equal head
            middle = (low + high + 1) // 2
            if a[:middle * record] == b[:middle * record]:
                low = middle
            else:
                high = middle - 1
        head, low, high = low, 0, shortest - low
        while low < high:  # the longest equal tail that does not overlap the head
            middle = (low + high + 1) // 2
            if a[len(a) - middle * record:] == b[len(b) - middle * record:]:
                low = middle
            else:
                high = middle - 1
        return head, low


def first_overlap(sets: list[Intervals]) -> tuple[int, int] | None:
    """Where two of these merged sets first share addresses (the start and end of the shared
    range), or None. Each set is disjoint, so in the union sorted by start any overlap shows
    between neighbours. Sorted as packed records (bytes order is numeric order for big-endian
    records of one width) and compared as bytes: C speed, no ints built until an answer exists."""
    sets = [s for s in sets if s]
    if len(sets) < 2:
        return None
    width = sets[0].width
    record = struct.Struct(f"{2 * width}s")
    blob = b"".join(sorted(chain.from_iterable(map(_FIRST, record.iter_unpack(s.data)) for s in sets)))
    starts = list(map(_FIRST, struct.Struct(f"{width}s{width}x").iter_unpack(blob)))
    ends = list(map(_FIRST, struct.Struct(f"{width}x{width}s").iter_unpack(blob)))
    index = next(compress(count(), map(le, starts[1:], ends)), None)
    if index is None:
        return None
    shared_end = min(ends[index], ends[index + 1])
    return _from_bytes(starts[index + 1], "big"), _from_bytes(shared_end, "big")
