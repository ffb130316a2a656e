"""Apply a small change to the interval sets as one netlink batch, instead of a full `nft -f`.

A one-prefix change with 100k prefixes loaded costs a full apply ~1 s (flush and refill every
set) and `nft add element` ~1 s (the CLI re-reads the whole set first); the kernel itself needs
well under a millisecond. This module computes, per interval set, which intervals leave and
which arrive, and sends DELSETELEM then NEWSETELEM messages inside ONE nfnetlink batch
(begin … end), so the kernel commits them atomically: no packet sees a half-applied change.

Interval sets are rbtrees in the kernel: each interval [start, end] is two elements, `start` and
`end + 1` flagged NFT_SET_ELEM_INTERVAL_END (no end element when the interval reaches the top of
the address space) — the shape `nft -f` writes, checked against nft by tests/kernel/test_setdelta.py.

Only the contents of interval sets may differ; anything else (a chain, a counter, a set
declaration) makes `plan_delta` return None and the caller does a full apply. The delta is computed
against the ruleset the caller last applied; if the kernel no longer holds exactly that (someone
edited it), the kernel refuses the batch as a whole (ENOENT/EEXIST) and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import compress, count
from operator import ne

from ..addresses import Interval
from ..errors import KernelError
from ..intervals import Intervals
from ..ruleset import Ruleset
from .nlbatch import DELSETELEM, NEWSETELEM, NLM_F_CREATE, Message, element_messages
from .nlsocket import BatchRefused, BatchSocket

# The delta is computed with set differences in Python; past this many changed intervals a full
# apply (flush and refill, also one netlink batch) is as fast and simpler to reason about.
MAX_DELTA_INTERVALS = 50_000


@dataclass(frozen=True)
class SetDelta:
    set_name: str
    family: str
    removed: tuple[Interval, ...]
    added: tuple[Interval, ...]


@dataclass(frozen=True)
class Delta:
    table: str
    sets: tuple[SetDelta, ...]

    @property
    def size(self) -> int:
        return sum(len(s.removed) + len(s.added) for s in self.sets)

    def __bool__(self) -> bool:
        return self.size > 0


def plan_delta(current: Ruleset | None, desired: Ruleset,
               max_intervals: int = MAX_DELTA_INTERVALS) -> Delta | None:
    """The per-set interval changes from `current` to `desired`, or None when a full apply is due."""
    if current is None or current.table != desired.table:
        return None
    if current.counters != desired.counters or current.chains != desired.chains:
        return None
    if [s.declaration() + (s.name,) for s in current.sets] != [s.declaration() + (s.name,) for s in desired.sets]:
        return None
    changes = []
    for have, want in zip(current.sets, desired.sets, strict=True):
        if want.kind != "interval" or have.elements == want.elements:
            continue
        removed, added = _difference(have.elements, want.elements)
        changes.append(SetDelta(want.name, want.family, removed, added))
    delta = Delta(desired.table, tuple(changes))
    return delta if delta.size <= max_intervals else None


def _difference(old, new) -> tuple[tuple, tuple]:
    """(only in old, only in new) of two sorted interval sequences. A typical change touches a few
    intervals among 100k, so trim the common head and tail first: on packed Intervals by comparing
    bytes, otherwise at C speed (map/compress); hashing every interval, or a Python loop, cost
    tens of ms at 100k."""
    if isinstance(old, Intervals) and isinstance(new, Intervals) and old.width == new.width:
        head, tail = old.common_ends(new)
    else:
        shortest = min(len(old), len(new))
        head = next(compress(count(), map(ne, old, new)), shortest)
        tail = next(compress(count(), map(ne, reversed(old[head:]), reversed(new[head:]))), shortest - head)
        tail = min(tail, shortest - head)
    middle_old, middle_new = set(old[head:len(old) - tail]), set(new[head:len(new) - tail])
    return tuple(sorted(middle_old - middle_new)), tuple(sorted(middle_new - middle_old))


class SetDeltaApplier:
    """Sends a Delta as one nfnetlink batch through a BatchSocket (opened in the caller's netns)."""

    def __init__(self, batches: BatchSocket | None = None) -> None:
        self._owned = batches is None
        self._batches = batches or BatchSocket()

    def close(self) -> None:
        if self._owned:
            self._batches.close()

    def apply(self, delta: Delta) -> int:
        """Commit the delta atomically; returns the number of element messages sent."""
        if not delta:
            return 0
        batch: list[Message] = []
        # Removals first: a merged interval is replaced by deleting the old one and adding the new.
        for kind, flags in ((DELSETELEM, 0), (NEWSETELEM, NLM_F_CREATE)):
            for change in delta.sets:
                intervals = change.removed if kind == DELSETELEM else change.added
                batch += element_messages(kind, flags, delta.table, change.set_name, change.family, intervals)
        try:
            self._batches.send(batch)
        except BatchRefused as exc:
            raise KernelError(f"the kernel refused the set change at '{exc.what}' ({exc.strerror}) and kept its "
                              "previous rules; hint: the table changed outside op25b; a full apply repairs it") from None
        return len(batch)
