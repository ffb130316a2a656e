"""Netlink attribute encoding with `struct`: the few shapes nf_tables messages are built from.

Shared by the read path (nfquery.py) and the write path (nlbatch.py). Numbers follow
linux/netfilter/nf_tables.h; nf_tables wants multi-byte integers in network byte order.
"""

from __future__ import annotations

import struct

NLA_F_NESTED = 0x8000
_ATTR = struct.Struct("=HH")
_BE32 = struct.Struct(">I")
_BE32_SIGNED = struct.Struct(">i")
_BE64 = struct.Struct(">Q")


def attr(kind: int, payload: bytes) -> bytes:
    data = _ATTR.pack(_ATTR.size + len(payload), kind) + payload
    return data + b"\0" * (-len(data) % 4)


def nested(kind: int, *children: bytes) -> bytes:
    return attr(kind | NLA_F_NESTED, b"".join(children))


def string(kind: int, text: str) -> bytes:
    return attr(kind, text.encode() + b"\0")


def be32(kind: int, value: int) -> bytes:
    return attr(kind, _BE32.pack(value))


def be32_signed(kind: int, value: int) -> bytes:
    return attr(kind, _BE32_SIGNED.pack(value))


def be64(kind: int, value: int) -> bytes:
    return attr(kind, _BE64.pack(value))
