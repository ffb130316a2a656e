"""Rule text → nf_tables expressions, for the closed set of rule forms render/nftables.py writes.

Why: sending our ruleset as netlink messages ourselves skips the nft CLI, whose parser, interval
processing and set-element cache cost ~3 s at 100k+100k prefixes (docs/performance.md, P1).
The rules stay in the model as the exact text `nft list` prints (ruleset.py); this module reads
that text back statement by statement and emits the same expressions nft itself emits for it
(`nft --debug=netlink` shows them). tests/kernel/test_netlink_apply.py proves it: a table loaded
this way lists byte-identical to one loaded by `nft -f`.

A rule outside the known forms raises Unencodable, and the applier falls back to `nft -f`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .nlattr import attr as raw_attr
from .nlattr import be32, be32_signed, nested, string

# nf_tables.h enums used here.
EXPR_NAME, EXPR_DATA, LIST_ELEM = 1, 2, 1
META_DREG, META_KEY = 1, 2
META_IIFNAME, META_NFPROTO, META_L4PROTO = 6, 15, 16
CMP_SREG, CMP_OP, CMP_DATA = 1, 2, 3
PAYLOAD_DREG, PAYLOAD_BASE, PAYLOAD_OFFSET, PAYLOAD_LEN = 1, 2, 3, 4
NETWORK_HEADER, TRANSPORT_HEADER = 1, 2
LOOKUP_SET, LOOKUP_SREG, LOOKUP_DREG, LOOKUP_SET_ID = 1, 2, 3, 4
DYNSET_SET_NAME, DYNSET_SET_ID, DYNSET_OP, DYNSET_SREG_KEY = 1, 2, 3, 4
DYNSET_OP_UPDATE = 1
OBJREF_IMM_TYPE, OBJREF_IMM_NAME = 1, 2
OBJECT_COUNTER = 1
IMMEDIATE_DREG, IMMEDIATE_DATA = 1, 2
DATA_VALUE, DATA_VERDICT, VERDICT_CODE, VERDICT_CHAIN = 1, 2, 1, 2
REJECT_TYPE, REJECT_ICMP_CODE = 1, 2
REG_VERDICT, REG_1 = 0, 1
NF_DROP, NF_ACCEPT, NFT_JUMP, NFT_GOTO, NFT_RETURN = 0, 1, -3, -4, -5
NFPROTO = {"ipv4": 2, "ipv6": 10}
IPPROTO_TCP = 6
IFNAMSIZ = 16
# nft datatype ids for anonymous map keys
TYPE_NFPROTO, TYPE_INET_SERVICE = 2, 13

# (protocol, field) → (nfproto, offset, length) in the network header
ADDRESS = {("ip", "saddr"): ("ipv4", 12, 4), ("ip", "daddr"): ("ipv4", 16, 4),
            ("ip6", "saddr"): ("ipv6", 8, 16), ("ip6", "daddr"): ("ipv6", 24, 16)}
_VERDICTS = {"return": NFT_RETURN, "drop": NF_DROP, "accept": NF_ACCEPT}
REJECTS = {"reject with tcp reset": (1, 0), "reject with icmpx admin-prohibited": (2, 3)}
_NAME = r"[a-z][a-z0-9_-]{0,63}"


class Unencodable(ValueError):
    """A rule this encoder does not know; the caller sends the transaction through nft instead."""


@dataclass(frozen=True)
class AnonymousMap:
    """A constant verdict map a rule carries (`vmap { … }`): created in the same batch."""

    set_id: int
    key_type: int
    key_len: int
    elements: tuple[tuple[bytes, int, str], ...]  # (key, verdict code, chain)


@dataclass
class EncodedRule:
    expressions: list[bytes] = field(default_factory=list)
    maps: list[AnonymousMap] = field(default_factory=list)


def _expr(name: str, *attrs: bytes) -> bytes:
    return nested(LIST_ELEM, string(EXPR_NAME, name), nested(EXPR_DATA, *attrs))


def _meta(key: int) -> bytes:
    return _expr("meta", be32(META_KEY, key), be32(META_DREG, REG_1))


def _cmp_eq(value: bytes) -> bytes:
    return _expr("cmp", be32(CMP_SREG, REG_1), be32(CMP_OP, 0), nested(CMP_DATA, raw_attr(DATA_VALUE, value)))


def _payload(base: int, offset: int, length: int) -> bytes:
    return _expr("payload", be32(PAYLOAD_DREG, REG_1), be32(PAYLOAD_BASE, base),
                 be32(PAYLOAD_OFFSET, offset), be32(PAYLOAD_LEN, length))


def _lookup(set_name: str, set_id: int | None = None, verdict_map: bool = False) -> bytes:
    attrs = [be32(LOOKUP_SREG, REG_1), string(LOOKUP_SET, set_name)]
    if verdict_map:
        attrs.append(be32(LOOKUP_DREG, REG_VERDICT))
    if set_id is not None:
        attrs.append(be32(LOOKUP_SET_ID, set_id))
    return _expr("lookup", *attrs)


def verdict_data(code: int, chain: str | None = None) -> bytes:
    parts = [be32_signed(VERDICT_CODE, code)] + ([string(VERDICT_CHAIN, chain)] if chain else [])
    return nested(DATA_VERDICT, *parts)


def _immediate(code: int, chain: str | None = None) -> bytes:
    return _expr("immediate", be32(IMMEDIATE_DREG, REG_VERDICT), nested(IMMEDIATE_DATA, verdict_data(code, chain)))


class _Rule:
    """Statement-by-statement reader of one rule; tracks the protocol dependencies nft adds
    implicitly (an `ip saddr` match in an inet table first checks `meta nfproto ipv4`)."""

    def __init__(self, text: str, set_ids: dict[str, int], next_set_id) -> None:
        self.text, self.rest = text, text
        self.set_ids, self.next_set_id = set_ids, next_set_id
        self.out = EncodedRule()
        self.nfproto: str | None = None
        self.tcp = False

    def take(self, pattern: str) -> re.Match | None:
        match = re.match(pattern + r"(?: |$)", self.rest)
        if match:
            self.rest = self.rest[match.end():]
        return match

    def need_nfproto(self, family: str) -> None:
        if self.nfproto != family:
            self.out.expressions += [_meta(META_NFPROTO), _cmp_eq(bytes([NFPROTO[family]]))]
            self.nfproto = family

    def need_tcp(self) -> None:
        if not self.tcp:
            self.out.expressions += [_meta(META_L4PROTO), _cmp_eq(bytes([IPPROTO_TCP]))]
            self.tcp = True

    def lookup(self, name: str) -> bytes:
        return _lookup(name, self.set_ids.get(name))

    def vmap(self, key_type: int, key_len: int, body: str, key_of) -> None:
        elements = []
        for item in body.split(", "):
            match = re.fullmatch(rf"(\S+) : (jump|goto) ({_NAME})", item)
            if not match:
                raise Unencodable(f"vmap element {item!r}")
            code = NFT_JUMP if match[2] == "jump" else NFT_GOTO
            elements.append((key_of(match[1]), code, match[3]))
        anonymous = AnonymousMap(self.next_set_id(), key_type, key_len, tuple(elements))
        self.out.maps.append(anonymous)
        self.out.expressions.append(_lookup("__map%d", anonymous.set_id, verdict_map=True))

    def encode(self) -> EncodedRule:
        while self.rest:
            if not self.statement():
                raise Unencodable(f"cannot encode {self.rest!r} in rule {self.text!r}")
        return self.out

    def statement(self) -> bool:  # noqa: C901 - one branch per statement form, read top to bottom
        ex = self.out.expressions
        if match := self.take(r"tcp dport vmap \{ ([^}]*) \}"):
            self.need_tcp()
            ex.append(_payload(TRANSPORT_HEADER, 2, 2))
            self.vmap(TYPE_INET_SERVICE, 2, match[1], lambda port: int(port).to_bytes(2, "big"))
        elif match := self.take(r"meta nfproto vmap \{ ([^}]*) \}"):
            ex.append(_meta(META_NFPROTO))
            self.vmap(TYPE_NFPROTO, 1, match[1], lambda family: bytes([NFPROTO[family]]))
        elif match := self.take(r'iifname "([A-Za-z0-9_.:@-]{1,15})(\*?)"'):
            name = match[1].encode()
            ex += [_meta(META_IIFNAME), _cmp_eq(name if match[2] else name.ljust(IFNAMSIZ, b"\0"))]
        elif self.take(r"meta l4proto tcp"):
            self.need_tcp()
        elif match := self.take(r"meta nfproto (ipv4|ipv6)"):
            self.need_nfproto(match[1])
        elif match := self.take(rf"(ip6?) (saddr|daddr) @({_NAME})"):
            family, offset, length = ADDRESS[(match[1], match[2])]
            self.need_nfproto(family)
            ex += [_payload(NETWORK_HEADER, offset, length), self.lookup(match[3])]
        elif match := self.take(r"tcp dport (\d{1,5})"):
            self.need_tcp()
            ex += [_payload(TRANSPORT_HEADER, 2, 2), _cmp_eq(int(match[1]).to_bytes(2, "big"))]
        elif match := self.take(rf"update @({_NAME}) \{{ (ip6?) saddr \}}"):
            _, offset, length = ADDRESS[(match[2], "saddr")]
            attrs = [be32(DYNSET_SREG_KEY, REG_1), be32(DYNSET_OP, DYNSET_OP_UPDATE), string(DYNSET_SET_NAME, match[1])]
            if match[1] in self.set_ids:
                attrs.append(be32(DYNSET_SET_ID, self.set_ids[match[1]]))
            ex += [_payload(NETWORK_HEADER, offset, length), _expr("dynset", *attrs)]
        elif match := self.take(rf'counter name "({_NAME})"'):
            ex.append(_expr("objref", be32(OBJREF_IMM_TYPE, OBJECT_COUNTER), string(OBJREF_IMM_NAME, match[1])))
        elif match := self.take(r"(return|drop|accept)"):
            ex.append(_immediate(_VERDICTS[match[1]]))
        elif match := self.take(rf"(jump|goto) ({_NAME})"):
            ex.append(_immediate(NFT_JUMP if match[1] == "jump" else NFT_GOTO, match[2]))
        elif match := self.take(r"(reject with tcp reset|reject with icmpx admin-prohibited)"):
            kind, code = REJECTS[match[1]]
            ex.append(_expr("reject", be32(REJECT_TYPE, kind), raw_attr(REJECT_ICMP_CODE, bytes([code]))))
        else:
            return False
        return True


def encode_rule(text: str, set_ids: dict[str, int], next_set_id) -> EncodedRule:
    """The expressions of one rule. `set_ids` names the sets created in this batch (a lookup of
    those carries their batch id too, as nft does); `next_set_id()` numbers anonymous maps."""
    return _Rule(text, set_ids, next_set_id).encode()
