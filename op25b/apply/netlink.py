"""Cheap kernel reads over nfnetlink (pyroute2): generation id, named counters, and our table's
inventory (chain hooks, set declarations, counter names) without set contents.

Why not `nft list`: the nft 1.0.6 CLI fetches every element of every set into its cache first;
with 100k+100k prefixes loaded that takes ~4 s, a netlink dump of the same metadata ~1 ms.
Counters are named objects (NFT_MSG_GETOBJ), which pyroute2 has no message class for, so a small
one is declared here.
"""

from __future__ import annotations

from pyroute2.netlink import NLM_F_DUMP, NLM_F_REQUEST, nla
from pyroute2.netlink.nfnetlink import NFNL_SUBSYS_NFTABLES
from pyroute2.netlink.nfnetlink.nftsocket import (
    NFT_MSG_GETCHAIN,
    NFT_MSG_GETGEN,
    NFT_MSG_GETOBJ,
    NFT_MSG_GETSET,
    NFT_MSG_NEWOBJ,
    NFTSocket,
    nfgen_msg,
    nft_chain_msg,
    nft_gen_msg,
    nft_set_msg,
)

from ..render.nftables import hook_line
from ..ruleset import Inventory

NFPROTO_INET = 1
NFT_OBJECT_COUNTER = 1
NF_INET_FORWARD = 2
_KEY_TYPES = {7: "ipv4_addr", 8: "ipv6_addr"}  # nft's datatype ids for set keys
ENOENT = 2


class nft_obj_msg(nfgen_msg):
    nla_map = (
        ("NFTA_OBJ_UNSPEC", "none"),
        ("NFTA_OBJ_TABLE", "asciiz"),
        ("NFTA_OBJ_NAME", "asciiz"),
        ("NFTA_OBJ_TYPE", "be32"),
        ("NFTA_OBJ_DATA", "counter_data"),
        ("NFTA_OBJ_USE", "be32"),
        ("NFTA_OBJ_HANDLE", "be64"),
        ("NFTA_OBJ_PAD", "hex"),
        ("NFTA_OBJ_USERDATA", "hex"),
    )

    class counter_data(nla):
        nla_map = (
            ("NFTA_COUNTER_UNSPEC", "none"),
            ("NFTA_COUNTER_BYTES", "be64"),
            ("NFTA_COUNTER_PACKETS", "be64"),
        )


class NetlinkReader:
    """One nfnetlink socket, opened in the caller's network namespace, reused across reads."""

    def __init__(self) -> None:
        self._socket = NFTSocket(nfgen_family=NFPROTO_INET)
        policy = {msg | (NFNL_SUBSYS_NFTABLES << 8): nft_obj_msg for msg in (NFT_MSG_GETOBJ, NFT_MSG_NEWOBJ)}
        self._socket.register_policy(policy)

    def close(self) -> None:
        self._socket.close()

    def generation(self) -> int:
        reply = self._socket.request_get(nft_gen_msg(), NFT_MSG_GETGEN, msg_flags=NLM_F_REQUEST)
        return int(reply[0].get_attr("NFTA_GEN_ID"))

    def _dump(self, msg, msg_type, table: str) -> list:
        msg["attrs"] = [(msg.nla_map[1][0], table)] + msg.get("attrs", [])
        try:
            return [m for m in self._socket.request_get(msg, msg_type, NLM_F_REQUEST | NLM_F_DUMP)
                    if m.get_attr(msg.nla_map[1][0]) == table]
        except Exception as exc:  # ENOENT: the table does not exist
            if getattr(exc, "code", None) == ENOENT:
                return []
            raise

    def counters(self, table: str) -> dict[str, tuple[int, int]]:
        msg = nft_obj_msg()
        msg["attrs"] = [("NFTA_OBJ_TYPE", NFT_OBJECT_COUNTER)]
        out = {}
        for reply in self._dump(msg, NFT_MSG_GETOBJ, table):
            data = reply.get_attr("NFTA_OBJ_DATA")
            out[reply.get_attr("NFTA_OBJ_NAME")] = (
                int(data.get_attr("NFTA_COUNTER_PACKETS") or 0), int(data.get_attr("NFTA_COUNTER_BYTES") or 0))
        return out

    def inventory(self, table: str) -> Inventory:
        chains = {}
        for reply in self._dump(nft_chain_msg(), NFT_MSG_GETCHAIN, table):
            chains[reply.get_attr("NFTA_CHAIN_NAME")] = _hook(reply)
        sets = {}
        for reply in self._dump(nft_set_msg(), NFT_MSG_GETSET, table):
            if "NFT_SET_ANONYMOUS" in (reply.get_attr("NFTA_SET_FLAGS") or ()):
                continue  # the inline maps of our rules; they live and die with their rule
            sets[reply.get_attr("NFTA_SET_NAME")] = _declaration(reply)
        counters = frozenset(self.counters(table))
        exists = bool(chains or sets or counters) or self._table_exists(table)
        return Inventory(exists, chains, sets, counters)

    def _table_exists(self, table: str) -> bool:
        from pyroute2.netlink.nfnetlink.nftsocket import NFT_MSG_GETTABLE, nft_table_msg

        replies = self._socket.request_get(nft_table_msg(), NFT_MSG_GETTABLE)
        return any(r.get_attr("NFTA_TABLE_NAME") == table for r in replies)


def _hook(reply) -> str | None:
    hook = reply.get_attr("NFTA_CHAIN_HOOK")
    if hook is None:
        return None
    number = hook.get_attr("NFTA_HOOK_HOOKNUM")
    priority = hook.get_attr("NFTA_HOOK_PRIORITY")
    if priority is not None and priority >= 1 << 31:  # be32 decoded unsigned
        priority -= 1 << 32
    policy = reply.get_attr("NFTA_CHAIN_POLICY")
    kind = reply.get_attr("NFTA_CHAIN_TYPE")
    if number == NF_INET_FORWARD and kind == "filter" and policy in (1, None):
        return hook_line(priority)
    return f"hook {number} type {kind} priority {priority} policy {policy}"  # never equal: recreate


def _declaration(reply) -> tuple:
    flags = reply.get_attr("NFTA_SET_FLAGS") or frozenset()  # decoded by pyroute2 into flag names
    key = _KEY_TYPES.get(reply.get_attr("NFTA_SET_KEY_TYPE"), "other")
    if "NFT_SET_EVAL" in flags:
        desc = reply.get_attr("NFTA_SET_DESC")
        size = desc.get_attr("NFTA_SET_DESC_SIZE") if desc is not None else None
        timeout = reply.get_attr("NFTA_SET_TIMEOUT")
        return (key, "dynamic", size, timeout // 1000 if timeout is not None else None)
    return (key, "interval" if "NFT_SET_INTERVAL" in flags else "other", None, None)
