"""Read our table back from the kernel over netlink, as the same Ruleset `nft list` + nftparse give.

Why: `plan` and the daemon's drift check need the kernel's whole table. `nft list table` reads
every set element into nft's cache and prints it as text (~4.5 s at 100k+100k prefixes here);
dumping the elements and rules ourselves and decoding them with `struct` takes a fraction of that.

The rules are decoded back into text only for the expression sequences nlrules.py writes (the
same ones nft writes for our rule text), with nft's own way of printing them: the `meta nfproto`
check before an `ip saddr` and the `meta l4proto tcp` check before a `tcp dport` are implied and
not printed. Anything else in our table (a rule added by hand, an unknown set) makes read_table
return None, and the caller lists the table with nft instead, so drift is always shown as nft
sees it. tests/kernel/test_netlink_read.py holds this reader to `nft list table` + nftparse.
"""

from __future__ import annotations

import struct

from ..addresses import merge
from ..intervals import Intervals
from ..ruleset import ChainSpec, Ruleset, SetSpec
from . import nlrules as r
from .nfquery import NLM_F_DUMP, QuerySocket, attributes
from .nlattr import string

GETRULE, GETSETELEM = 7, 13
RULE_TABLE, RULE_CHAIN, RULE_EXPRESSIONS = 1, 2, 4
ELEM_LIST_TABLE, ELEM_LIST_SET, ELEM_LIST_ELEMENTS = 1, 2, 3
ELEM_KEY, ELEM_DATA, ELEM_FLAGS = 1, 2, 3
INTERVAL_END = 1
_SELECTOR = {(off, length): (proto, field) for (proto, field), (_, off, length) in r.ADDRESS.items()}
_FAMILY_OF = {value: family for family, value in r.NFPROTO.items()}
_VERDICT_WORD = {r.NFT_RETURN: "return", r.NF_DROP: "drop", r.NF_ACCEPT: "accept"}


class Unreadable(ValueError):
    """Something in the table this reader does not decode; list it with nft instead."""


def _cstr(value: bytes) -> str:
    return value.split(b"\0", 1)[0].decode()


def _be32(value: bytes) -> int:
    return struct.unpack(">I", value[:4])[0]


def _data_value(value: bytes) -> bytes:
    return dict(attributes(value)).get(r.DATA_VALUE, b"")


def _verdict(value: bytes) -> tuple[int, str | None]:
    verdict = dict(attributes(dict(attributes(value)).get(r.DATA_VERDICT, b"")))
    code = struct.unpack(">i", verdict[r.VERDICT_CODE][:4])[0]
    return code, _cstr(verdict[r.VERDICT_CHAIN]) if r.VERDICT_CHAIN in verdict else None


def read_table(query: QuerySocket, table: str) -> Ruleset | None:
    """Our table as the kernel holds it, or None when it does not exist. Raises Unreadable."""
    inventory = query.inventory(table)
    if not inventory.table_exists:
        return None
    counters = tuple(query.counters(table))
    sets = []
    for name, (key_type, kind, size, timeout) in inventory.sets.items():
        family = {"ipv4_addr": "ipv4", "ipv6_addr": "ipv6"}.get(key_type)
        if family is None or kind not in ("interval", "dynamic"):
            raise Unreadable(f"set {name} of type {key_type}, kind {kind}")
        elements = Intervals.pack(family, _intervals(query, table, name, family)) if kind == "interval" else ()
        sets.append(SetSpec(name, family, kind, elements, size, timeout))
    rules: dict[str, list[str]] = {name: [] for name in inventory.chains}
    # The whole dump first: decoding a vmap sends another request on the same socket.
    for payload in list(query.request(GETRULE, NLM_F_DUMP, string(RULE_TABLE, table))):
        fields = dict(attributes(payload))
        if _cstr(fields.get(RULE_TABLE, b"")) != table:
            continue
        expressions = [_expression(e) for _, e in attributes(fields.get(RULE_EXPRESSIONS, b""))]
        rules.setdefault(_cstr(fields[RULE_CHAIN]), []).append(_Decoder(query, table, expressions).text())
    chains = tuple(ChainSpec(name, tuple(rules[name]), hook) for name, hook in inventory.chains.items())
    return Ruleset(table, counters, tuple(sets), chains)


def _intervals(query: QuerySocket, table: str, name: str, family: str) -> list[tuple[int, int]]:
    """An interval set's elements as (start, end): each start element, then `end + 1` flagged
    INTERVAL_END (none when the interval reaches the top of the address space)."""
    width = 4 if family == "ipv4" else 16
    keys: list[tuple[int, bool]] = []  # (key, is_start): sorted, an end comes before a start at the same key
    attrs = string(ELEM_LIST_TABLE, table) + string(ELEM_LIST_SET, name)
    for payload in query.request(GETSETELEM, NLM_F_DUMP, attrs):
        for kind, value in attributes(payload):
            if kind == ELEM_LIST_ELEMENTS:
                _element_keys(value, width, keys)
    keys.sort()
    top = (1 << (8 * width)) - 1
    out, start = [], None
    for key, is_start in keys:
        if not is_start:
            if start is not None:  # an end with no start before it (nft writes one at 0) marks nothing
                out.append((start, key - 1))
                start = None
        elif start is None:
            start = key
        else:
            raise Unreadable(f"set {name}: two interval starts in a row")
    if start is not None:
        out.append((start, top))
    return merge(out)  # adjacent CIDR blocks (how op25b and nft load a merged range) are one interval


# The key attribute as the kernel writes it in dumps (nested, without NLA_F_NESTED).
_KEY_HEADER = {4: struct.pack("=HHHH", 12, ELEM_KEY, 8, 1), 16: struct.pack("=HHHH", 24, ELEM_KEY, 20, 1)}
_END_FLAG = struct.pack("=HH", 8, ELEM_FLAGS) + struct.pack(">I", INTERVAL_END)
_unpack_length = struct.Struct("=H").unpack_from


def _element_keys(blob: bytes, width: int, keys: list) -> None:
    """Append (key, is_start) for each element of one NFTA_SET_ELEM_LIST_ELEMENTS blob.
    The kernel writes the key first, so a fixed-offset read covers the usual element, ~1 µs each
    against ~10 µs for a generic attribute walk; anything else takes the generic walk."""
    header, from_bytes = _KEY_HEADER[width], int.from_bytes
    offset, end = 0, len(blob)
    while offset + 4 <= end:
        length = _unpack_length(blob, offset)[0]
        if length < 4:
            break
        element = blob[offset + 4:offset + length]
        offset += (length + 3) & ~3
        if element[:8] == header:
            rest = element[8 + width:]
            if not rest or rest == _END_FLAG:
                keys.append((from_bytes(element[8:8 + width], "big"), not rest))
                continue
        fields = dict(attributes(element))
        is_end = bool(_be32(fields[ELEM_FLAGS]) & INTERVAL_END) if ELEM_FLAGS in fields else False
        keys.append((from_bytes(_data_value(fields[ELEM_KEY]), "big"), not is_end))


def _expression(data: bytes) -> tuple[str, dict[int, bytes]]:
    fields = dict(attributes(data))
    return _cstr(fields.get(r.EXPR_NAME, b"")), dict(attributes(fields.get(r.EXPR_DATA, b"")))


class _Decoder:
    """One rule's expressions → the text nft prints for it (only our forms)."""

    def __init__(self, query: QuerySocket, table: str, expressions: list) -> None:
        self.query, self.table, self.ex, self.i = query, table, expressions, 0

    def peek(self, offset: int = 0) -> tuple[str, dict]:
        index = self.i + offset
        return self.ex[index] if index < len(self.ex) else ("", {})

    def text(self) -> str:
        words = []
        while self.i < len(self.ex):
            words.append(self.statement())
        return " ".join(word for word in words if word)

    def statement(self) -> str:  # noqa: C901 - one branch per expression shape, read top to bottom
        name, attrs = self.peek()
        following, after = self.peek(1), self.peek(2)
        if name == "meta" and following[0] == "cmp":
            key, value = _be32(attrs[r.META_KEY]), _data_value(following[1][r.CMP_DATA])
            self.i += 2
            if key == r.META_L4PROTO and value == bytes([r.IPPROTO_TCP]):
                implied = after[0] == "payload" and _be32(after[1][r.PAYLOAD_BASE]) == r.TRANSPORT_HEADER
                return "" if implied else "meta l4proto tcp"
            if key == r.META_NFPROTO and value[:1] and value[0] in _FAMILY_OF:
                implied = after[0] == "payload" and _be32(after[1][r.PAYLOAD_BASE]) == r.NETWORK_HEADER
                return "" if implied else f"meta nfproto {_FAMILY_OF[value[0]]}"
            if key == r.META_IIFNAME:
                exact = len(value) == r.IFNAMSIZ and value.endswith(b"\0")
                interface = value.rstrip(b"\0").decode()
                return f'iifname "{interface}{"" if exact else "*"}"'
            raise Unreadable(f"meta key {key}")
        if name == "meta" and following[0] == "lookup" and _be32(attrs[r.META_KEY]) == r.META_NFPROTO:
            self.i += 2
            return f"meta nfproto vmap {{ {self.vmap(following[1], lambda k: _FAMILY_OF[k[0]])} }}"
        if name == "payload":
            base, offset, length = (_be32(attrs[k]) for k in (r.PAYLOAD_BASE, r.PAYLOAD_OFFSET, r.PAYLOAD_LEN))
            self.i += 2
            if base == r.TRANSPORT_HEADER and (offset, length) == (2, 2):
                if following[0] == "cmp":
                    return f"tcp dport {int.from_bytes(_data_value(following[1][r.CMP_DATA]), 'big')}"
                if following[0] == "lookup":
                    return f"tcp dport vmap {{ {self.vmap(following[1], lambda k: int.from_bytes(k, 'big'))} }}"
            if base == r.NETWORK_HEADER and (offset, length) in _SELECTOR:
                proto, field = _SELECTOR[(offset, length)]
                if following[0] == "lookup" and r.LOOKUP_DREG not in following[1]:
                    return f"{proto} {field} @{_cstr(following[1][r.LOOKUP_SET])}"
                if following[0] == "dynset" and _be32(following[1][r.DYNSET_OP]) == r.DYNSET_OP_UPDATE:
                    return f"update @{_cstr(following[1][r.DYNSET_SET_NAME])} {{ {proto} {field} }}"
            raise Unreadable(f"payload base {base} offset {offset} length {length}")
        self.i += 1
        if name == "objref" and _be32(attrs[r.OBJREF_IMM_TYPE]) == r.OBJECT_COUNTER:
            return f'counter name "{_cstr(attrs[r.OBJREF_IMM_NAME])}"'
        if name == "immediate" and _be32(attrs[r.IMMEDIATE_DREG]) == r.REG_VERDICT:
            code, chain = _verdict(attrs[r.IMMEDIATE_DATA])
            if code in (r.NFT_JUMP, r.NFT_GOTO):
                return f"{'jump' if code == r.NFT_JUMP else 'goto'} {chain}"
            if code in _VERDICT_WORD:
                return _VERDICT_WORD[code]
        if name == "reject":
            kind, code = _be32(attrs[r.REJECT_TYPE]), attrs.get(r.REJECT_ICMP_CODE, b"\0")[0]
            for text, (want_kind, want_code) in r.REJECTS.items():
                if kind == want_kind and (kind == 1 or code == want_code):
                    return text
        raise Unreadable(f"expression {name}")

    def vmap(self, lookup: dict, key_text) -> str:
        """The elements of the anonymous verdict map a rule looks up, sorted by key as nft prints."""
        name = _cstr(lookup[r.LOOKUP_SET])
        entries = []
        attrs = string(ELEM_LIST_TABLE, self.table) + string(ELEM_LIST_SET, name)
        for payload in self.query.request(GETSETELEM, NLM_F_DUMP, attrs):
            for kind, value in attributes(payload):
                if kind == ELEM_LIST_ELEMENTS:
                    for _, element in attributes(value):
                        fields = dict(attributes(element))
                        key = _data_value(fields[ELEM_KEY])
                        code, chain = _verdict(fields[ELEM_DATA])
                        verb = {r.NFT_JUMP: "jump", r.NFT_GOTO: "goto"}.get(code)
                        if verb is None:
                            raise Unreadable(f"map {name}: verdict {code}")
                        entries.append((key, f"{key_text(key)} : {verb} {chain}"))
        return ", ".join(text for _, text in sorted(entries))
