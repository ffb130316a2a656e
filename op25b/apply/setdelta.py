"""Apply a small change to the interval sets as one netlink batch, instead of a full `nft -f`.

A one-prefix change with 100k prefixes loaded costs a full apply ~1-3 s (nft flushes and refills
every set) and `nft add element` ~1 s (the CLI re-reads the whole set first); the kernel itself
needs well under a millisecond. This module computes, per interval set, which intervals leave and
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

import socket
from dataclasses import dataclass
from itertools import compress, count
from operator import ne

from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_REQUEST
from pyroute2.netlink.nfnetlink import NFNL_SUBSYS_NFTABLES, nfgen_msg
from pyroute2.netlink.nfnetlink.nftsocket import (
    NFT_MSG_DELSETELEM,
    NFT_MSG_NEWSETELEM,
    NFTSocket,
    nft_set_elem_list_msg,
)

from ..addresses import Interval
from ..errors import KernelError
from ..ruleset import Ruleset

NFPROTO_INET = 1
NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END = 0x10, 0x11
NFT_SET_ELEM_INTERVAL_END = 1
# An NFTA_SET_ELEM_LIST_ELEMENTS attribute is limited to 64 KiB (u16 length); an IPv6 interval is
# two elements of ~40 bytes, so 500 intervals per message stay well below it.
INTERVALS_PER_MESSAGE = 500
# Past this many changed intervals a full apply is the faster path: pyroute2 encodes each element
# in Python, ~0.35 ms per interval here (a full 100k+100k load took 155 s this way, `nft -f` 4 s).
MAX_DELTA_INTERVALS = 1_000
_BYTES = {"ipv4": 4, "ipv6": 16}
_ELEMENT_BYTES = 48  # one encoded IPv6 element with its flags, rounded up
SO_SNDBUFFORCE = getattr(socket, "SO_SNDBUFFORCE", 32)  # beyond wmem_max; needs CAP_NET_ADMIN


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


def _difference(old: tuple, new: tuple) -> tuple[tuple, tuple]:
    """(only in old, only in new) of two sorted interval tuples. A typical change touches a few
    intervals among 100k, so trim the common head and tail first, at C speed (map/compress):
    hashing every interval into two sets, or a Python loop, cost tens of ms at 100k."""
    shortest = min(len(old), len(new))
    head = next(compress(count(), map(ne, old, new)), shortest)
    tail = next(compress(count(), map(ne, reversed(old[head:]), reversed(new[head:]))), shortest - head)
    tail = min(tail, shortest - head)
    middle_old, middle_new = set(old[head:len(old) - tail]), set(new[head:len(new) - tail])
    return tuple(sorted(middle_old - middle_new)), tuple(sorted(middle_new - middle_old))


def element_keys(family: str, intervals) -> list[tuple[int, bool]]:
    """The kernel elements of merged intervals: (key, is_interval_end) pairs."""
    top = (1 << (_BYTES[family] * 8)) - 1
    out = []
    for start, end in intervals:
        out.append((start, False))
        if end < top:
            out.append((end + 1, True))
    return out


class SetDeltaApplier:
    """Sends a Delta as one nfnetlink batch; one socket, opened in the caller's namespace."""

    def __init__(self, nft_socket: NFTSocket | None = None) -> None:
        self._socket = nft_socket or NFTSocket(nfgen_family=NFPROTO_INET)
        self._sndbuf = 1 << 20  # pyroute2's default

    def close(self) -> None:
        self._socket.close()

    def apply(self, delta: Delta) -> int:
        """Commit the delta atomically; returns the number of element messages sent."""
        if not delta:
            return 0
        body = []
        # Removals first: a merged interval is replaced by deleting the old one and adding the new.
        for kind in (NFT_MSG_DELSETELEM, NFT_MSG_NEWSETELEM):
            for change in delta.sets:
                intervals = change.removed if kind == NFT_MSG_DELSETELEM else change.added
                for i in range(0, len(intervals), INTERVALS_PER_MESSAGE):
                    body.append(self._message(kind, delta.table, change, intervals[i:i + INTERVALS_PER_MESSAGE]))
        # The batch must reach the kernel in one send; grow the send buffer to fit it (nft does the
        # same), or a delta of a few thousand intervals fails with EMSGSIZE.
        self._fit_send_buffer(sum(len(c.removed) + len(c.added) for c in delta.sets) * 2 * _ELEMENT_BYTES)
        try:
            self._socket.nlm_request_batch([_batch_marker(NFNL_MSG_BATCH_BEGIN), *body,
                                            _batch_marker(NFNL_MSG_BATCH_END)])
        except Exception as exc:  # NetlinkError: the kernel aborted the whole batch
            raise KernelError(f"the kernel refused the set change and kept its previous rules: {exc}; "
                              "hint: the table changed outside op25b; a full apply repairs it") from None
        return len(body)

    def _fit_send_buffer(self, size: int) -> None:
        size = max(size + (1 << 16), 1 << 20)
        if size > self._sndbuf:
            self._socket.asyncore.socket.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, size)
            self._sndbuf = size

    @staticmethod
    def _message(kind: int, table: str, change: SetDelta, intervals) -> nft_set_elem_list_msg:
        width = _BYTES[change.family]
        elements = []
        for key, is_end in element_keys(change.family, intervals):
            attrs = [("NFTA_SET_ELEM_KEY", {"attrs": [("NFTA_DATA_VALUE", key.to_bytes(width, "big"))]})]
            if is_end:
                attrs.append(("NFTA_SET_ELEM_FLAGS", {NFT_SET_ELEM_INTERVAL_END}))
            elements.append({"attrs": attrs})
        msg = nft_set_elem_list_msg()
        msg["nfgen_family"] = NFPROTO_INET
        msg["attrs"] = [("NFTA_SET_ELEM_LIST_TABLE", table), ("NFTA_SET_ELEM_LIST_SET", change.set_name),
                        ("NFTA_SET_ELEM_LIST_ELEMENTS", elements)]
        flags = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_CREATE if kind == NFT_MSG_NEWSETELEM else 0)
        msg["header"]["type"] = (NFNL_SUBSYS_NFTABLES << 8) | kind
        msg["header"]["flags"] = flags
        return msg


def _batch_marker(kind: int) -> nfgen_msg:
    msg = nfgen_msg()
    msg["res_id"] = NFNL_SUBSYS_NFTABLES
    msg["header"]["type"] = kind
    msg["header"]["flags"] = NLM_F_REQUEST
    return msg
