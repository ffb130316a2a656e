"""The apply transaction as nf_tables netlink messages: the same steps as
render.nftables.transaction(), encoded here instead of by the nft CLI.

Why: at 100k+100k prefixes `nft -f` spends ~2 s of CPU parsing element text, merging intervals
and reading the loaded sets into its cache, before the kernel does ~0.5 s of real work. Packing
the elements with `struct` costs ~0.2 s. The batch is still ONE nfnetlink transaction (begin …
end), so the kernel commits all of it or nothing, exactly like `nft -f`.

Pure: builds bytes, touches nothing. nlsocket.BatchSocket sends them.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain, count, repeat
from operator import add, and_, itemgetter, or_, sub

from ..addresses import cidr_blocks
from ..intervals import Intervals
from ..ruleset import Inventory, Ruleset, SetSpec
from .nlattr import attr, be32, be64, nested, string
from .nlrules import LIST_ELEM, AnonymousMap, Unencodable, encode_rule, verdict_data

# nf_tables message types and attributes (linux/netfilter/nf_tables.h)
NEWTABLE, NEWCHAIN, DELCHAIN, NEWRULE, DELRULE = 0, 3, 5, 6, 8
NEWSET, DELSET, NEWSETELEM, DELSETELEM, NEWOBJ, DELOBJ = 9, 11, 12, 14, 18, 20
TABLE_NAME, TABLE_FLAGS = 1, 2
CHAIN_TABLE, CHAIN_NAME, CHAIN_HOOK, CHAIN_POLICY, CHAIN_TYPE = 1, 3, 4, 5, 7
HOOK_HOOKNUM, HOOK_PRIORITY = 1, 2
RULE_TABLE, RULE_CHAIN, RULE_EXPRESSIONS = 1, 2, 4
SET_TABLE, SET_NAME, SET_FLAGS, SET_KEY_TYPE, SET_KEY_LEN = 1, 2, 3, 4, 5
SET_DATA_TYPE, SET_DATA_LEN, SET_DESC, SET_ID, SET_TIMEOUT, SET_USERDATA, SET_EXPR = 6, 7, 9, 10, 11, 13, 17
SET_DESC_SIZE = 1
ELEM_LIST_TABLE, ELEM_LIST_SET, ELEM_LIST_ELEMENTS, ELEM_LIST_SET_ID = 1, 2, 3, 4
ELEM_KEY, ELEM_DATA, ELEM_FLAGS = 1, 2, 3
OBJ_TABLE, OBJ_NAME, OBJ_TYPE, OBJ_DATA = 1, 2, 3, 4
OBJECT_COUNTER = 1
# NFT_SET_* flags
F_ANONYMOUS, F_CONSTANT, F_INTERVAL, F_MAP, F_TIMEOUT, F_EVAL = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
NFT_DATA_VERDICT = 0xFFFFFF00
NF_INET_FORWARD = 2
NF_ACCEPT = 1
TYPE_IPADDR, TYPE_IP6ADDR = 7, 8
# NLM_F_* of the write requests: `add` never replaces (no EXCL), rules are appended.
NLM_F_CREATE, NLM_F_APPEND = 0x400, 0x800
# Set user data nft writes and reads back when listing: the key byte order (big endian = 2),
# as an nftnl_udata TLV {type 0, len 4, host-order u32}.
_KEY_BIG_ENDIAN = struct.pack("=BBI", 0, 4, 2)
_FAMILY_KEY = {"ipv4": (TYPE_IPADDR, 4), "ipv6": (TYPE_IP6ADDR, 16)}
# One NFTA_SET_ELEM_LIST_ELEMENTS attribute holds at most 64 KiB (u16 length).
_ELEMENTS_BUDGET = 60_000
_HOOK = "type filter hook forward priority "


@dataclass(frozen=True)
class Message:
    kind: int  # nf_tables message type
    flags: int  # NLM_F_* beyond NLM_F_REQUEST
    body: bytes  # attributes, after the nfgenmsg header
    what: str  # for error messages: which step the kernel refused


def _table(table: str) -> bytes:
    # NFTA_{TABLE_NAME,CHAIN_TABLE,RULE_TABLE,SET_TABLE,SET_ELEM_LIST_TABLE,OBJ_TABLE}: all 1.
    return string(TABLE_NAME, table)


def _hook(line: str) -> tuple[int, int]:
    if not (line.startswith(_HOOK) and line.endswith("; policy accept;")):
        raise Unencodable(f"chain hook {line!r}")
    return NF_INET_FORWARD, int(line[len(_HOOK):-len("; policy accept;")])


def _set_message(table: str, spec: SetSpec, set_id: int) -> Message:
    key_type, key_len = _FAMILY_KEY[spec.family]
    attrs = [_table(table), string(SET_NAME, spec.name)]
    if spec.kind == "interval":
        attrs += [be32(SET_FLAGS, F_INTERVAL), be32(SET_KEY_TYPE, key_type), be32(SET_KEY_LEN, key_len),
                  be32(SET_ID, set_id), attr(SET_USERDATA, _KEY_BIG_ENDIAN)]
    elif spec.kind == "dynamic":  # size N; flags dynamic,timeout; counter; timeout Ts
        attrs += [be32(SET_FLAGS, F_EVAL | F_TIMEOUT), be32(SET_KEY_TYPE, key_type), be32(SET_KEY_LEN, key_len),
                  be32(SET_ID, set_id), nested(SET_DESC, be32(SET_DESC_SIZE, spec.size)),
                  be64(SET_TIMEOUT, spec.timeout * 1000), attr(SET_USERDATA, _KEY_BIG_ENDIAN),
                  nested(SET_EXPR, string(1, "counter"), nested(2))]
    else:
        raise Unencodable(f"set kind {spec.kind!r}")
    return Message(NEWSET, NLM_F_CREATE, b"".join(attrs), f"add set {spec.name}")


def _map_messages(table: str, anonymous: AnonymousMap) -> list[Message]:
    declaration = [_table(table), string(SET_NAME, "__map%d"),
                   be32(SET_FLAGS, F_ANONYMOUS | F_CONSTANT | F_MAP),
                   be32(SET_KEY_TYPE, anonymous.key_type), be32(SET_KEY_LEN, anonymous.key_len),
                   be32(SET_DATA_TYPE, NFT_DATA_VERDICT), be32(SET_DATA_LEN, 0), be32(SET_ID, anonymous.set_id),
                   nested(SET_DESC, be32(SET_DESC_SIZE, len(anonymous.elements))), attr(SET_USERDATA, _KEY_BIG_ENDIAN)]
    elements = [nested(LIST_ELEM, nested(ELEM_KEY, attr(1, key)), nested(ELEM_DATA, verdict_data(code, chain)))
                for key, code, chain in anonymous.elements]
    fill = [_table(table), string(ELEM_LIST_SET, "__map%d"), be32(ELEM_LIST_SET_ID, anonymous.set_id),
            nested(ELEM_LIST_ELEMENTS, *elements)]
    return [Message(NEWSET, NLM_F_CREATE, b"".join(declaration), "add anonymous map"),
            Message(NEWSETELEM, NLM_F_CREATE, b"".join(fill), "add anonymous map elements")]


# --- interval elements: the bulk of the batch, packed without per-attribute calls ---------------

_V4_START = struct.Struct("=HHHHHH4s")  # LIST_ELEM{ KEY{ VALUE[4] } }
_V4_END = struct.Struct("=HHHHHH4sHHI")  # … plus FLAGS = INTERVAL_END
_V6_START = struct.Struct("=HHHHHH16s")
_V6_END = struct.Struct("=HHHHHH16sHHI")
_NESTED = 0x8000
_LIST_ELEM_NESTED, _KEY_NESTED = LIST_ELEM | _NESTED, ELEM_KEY | _NESTED
_INTERVAL_END_BE = struct.unpack("=I", (1).to_bytes(4, "big"))[0]
_FIRST, _SECOND = itemgetter(0), itemgetter(1)


def element_bytes(family: str, intervals) -> Iterator[tuple[int, bytes]]:
    """(interval count, encoded elements) chunks that each fit one message. An interval [a, b] is
    the element `a` plus the element `b + 1` flagged INTERVAL_END, the shape nft sends; no end
    element when b is the top of the address space. Every step runs in C (map over struct.pack
    and int.from_bytes), none per element in Python.

    Each CIDR block is its own kernel interval, exactly as `nft -f` loads our rendered text
    (render.nftables.element_text): [198.51.100.0, .191] goes in as 0/25 plus 128/26, so nft
    lists what `op25b render` printed. Merged ranges are nearly always one block already."""
    width = 4 if family == "ipv4" else 16
    packed = Intervals.pack(family, intervals)
    start_s, end_s = (_V4_START, _V4_END) if width == 4 else (_V6_START, _V6_END)
    a, b, record, bits = start_s.size, end_s.size, 2 * width, 8 * width
    split = struct.Struct(f">{width}s{width}s")
    top = (1 << bits) - 1
    per_chunk = _ELEMENTS_BUDGET // (a + b)
    for first in range(0, len(packed), per_chunk):
        pairs = list(split.iter_unpack(packed.data[first * record:(first + per_chunk) * record]))
        starts = list(map(_FIRST, pairs))
        start_ints = list(map(int.from_bytes, starts, repeat("big")))
        end_ints = list(map(int.from_bytes, map(_SECOND, pairs), repeat("big")))
        spans = list(map(sub, end_ints, start_ints))
        # One CIDR block iff, with d = end - start, d + 1 is a power of two and start is aligned
        # to it: ((d + 1) | start) & d == 0.
        if any(map(and_, map(or_, map(add, spans, repeat(1)), start_ints), spans)):
            blocks = cidr_blocks(family, zip(start_ints, end_ints, strict=True))
            yield from element_bytes(family, [(s, s + (1 << (bits - n)) - 1) for s, n in blocks])
            continue
        last_alone = end_ints[-1] == top  # only the last interval of a sorted set can reach the top
        if last_alone:
            end_ints.pop()
        after_ends = map(int.to_bytes, map(add, end_ints, repeat(1)), repeat(width), repeat("big"))
        start_elements = map(start_s.pack, repeat(a), repeat(_LIST_ELEM_NESTED), repeat(a - 4), repeat(_KEY_NESTED),
                             repeat(width + 4), repeat(1), starts)
        end_elements = map(end_s.pack, repeat(b), repeat(_LIST_ELEM_NESTED), repeat(width + 8), repeat(_KEY_NESTED),
                           repeat(width + 4), repeat(1), after_ends, repeat(8), repeat(ELEM_FLAGS),
                           repeat(_INTERVAL_END_BE))
        body = b"".join(chain.from_iterable(zip(start_elements, end_elements, strict=False)))
        if last_alone:
            body += start_s.pack(a, _LIST_ELEM_NESTED, a - 4, _KEY_NESTED, width + 4, 1, starts[-1])
        yield len(pairs), body


def element_messages(kind: int, flags: int, table: str, set_name: str, family: str, intervals,
                     set_id: int | None = None) -> Iterator[Message]:
    """NEWSETELEM (add) or DELSETELEM (delete) messages for these intervals of one set."""
    head = _table(table) + string(ELEM_LIST_SET, set_name) + (be32(ELEM_LIST_SET_ID, set_id) if set_id else b"")
    verb = "add" if kind == NEWSETELEM else "delete"
    for size, chunk in element_bytes(family, intervals):
        yield Message(kind, flags, head + attr(ELEM_LIST_ELEMENTS | _NESTED, chunk),
                      f"{verb} {size} interval(s) {'to' if kind == NEWSETELEM else 'from'} set {set_name}")


# --- the transaction ------------------------------------------------------------------------------


def messages(desired: Ruleset, current: Inventory) -> list[Message]:
    """The batch that turns `current` into `desired`: the steps of render.nftables.transaction().
    Raises Unencodable for anything outside the forms we encode."""
    t = desired.table
    out = [Message(NEWTABLE, NLM_F_CREATE, _table(t) + be32(TABLE_FLAGS, 0), f"add table inet {t}")]
    out += [Message(NEWOBJ, NLM_F_CREATE, _table(t) + string(OBJ_NAME, name) + be32(OBJ_TYPE, OBJECT_COUNTER)
                    + nested(OBJ_DATA, be64(1, 0), be64(2, 0)), f"add counter {name}") for name in desired.counters]
    wanted_chains = {c.name for c in desired.chains}
    wanted_sets = {s.name: s for s in desired.sets}
    for spec in desired.chains:
        if spec.name in current.chains and current.chains[spec.name] != spec.hook:
            out.append(_flush_chain(t, spec.name))
            out.append(_delete(DELCHAIN, t, spec.name, f"delete chain {spec.name}"))
    for spec in desired.chains:
        attrs = _table(t) + string(CHAIN_NAME, spec.name)
        if spec.hook:
            hooknum, priority = _hook(spec.hook)
            attrs += (nested(CHAIN_HOOK, be32(HOOK_HOOKNUM, hooknum), be32(HOOK_PRIORITY, priority & 0xFFFFFFFF))
                      + be32(CHAIN_POLICY, NF_ACCEPT) + string(CHAIN_TYPE, "filter"))
        out.append(Message(NEWCHAIN, NLM_F_CREATE, attrs, f"add chain {spec.name}"))
    # Flush every chain first: afterwards nothing references a set we may delete or redeclare.
    out += [_flush_chain(t, name) for name in sorted(set(current.chains) | wanted_chains)]
    out += [_delete(DELCHAIN, t, name, f"delete chain {name}") for name in sorted(set(current.chains) - wanted_chains)]
    for name, declaration in sorted(current.sets.items()):
        if name not in wanted_sets or wanted_sets[name].declaration() != declaration:
            out.append(_delete(DELSET, t, name, f"delete set {name}"))
    out += [Message(DELOBJ, 0, _table(t) + string(OBJ_NAME, name) + be32(OBJ_TYPE, OBJECT_COUNTER),
                    f"delete counter {name}") for name in sorted(current.counters - set(desired.counters))]
    ids = count(1)
    set_ids: dict[str, int] = {}
    for spec in desired.sets:
        set_ids[spec.name] = next(ids)
        out.append(_set_message(t, spec, set_ids[spec.name]))
        if spec.kind == "interval":
            out.append(Message(DELSETELEM, 0, _table(t) + string(ELEM_LIST_SET, spec.name), f"flush set {spec.name}"))
            out += element_messages(NEWSETELEM, NLM_F_CREATE, t, spec.name, spec.family, spec.elements,
                                    set_ids[spec.name])
    for spec in desired.chains:
        for rule in spec.rules:
            encoded = encode_rule(rule, set_ids, lambda: next(ids))
            for anonymous in encoded.maps:
                out += _map_messages(t, anonymous)
            body = _table(t) + string(RULE_CHAIN, spec.name) + nested(RULE_EXPRESSIONS, *encoded.expressions)
            out.append(Message(NEWRULE, NLM_F_CREATE | NLM_F_APPEND, body, f"add rule {spec.name} {rule}"))
    return out


def _flush_chain(table: str, chain: str) -> Message:
    return Message(DELRULE, 0, _table(table) + string(RULE_CHAIN, chain), f"flush chain {chain}")


def _delete(kind: int, table: str, name: str, what: str) -> Message:
    return Message(kind, 0, _table(table) + string(SET_NAME if kind == DELSET else CHAIN_NAME, name), what)
