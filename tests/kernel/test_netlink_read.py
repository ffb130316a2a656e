"""The netlink reader (apply/nlread.py) returns exactly what `nft list table` + nftparse return.

Every configuration of test_netlink_apply is loaded by `nft -f` (so the kernel holds what nft
itself wrote, including its own element shapes), then read both ways. Anything the reader does
not decode, such as a rule added by hand, must make it give up (the caller then uses nft), never
return a table that hides the drift.
"""

from __future__ import annotations

import subprocess

import pytest

from op25b.apply.kernel import KernelApplier
from op25b.apply.nfquery import QuerySocket
from op25b.apply.nftparse import parse_table
from op25b.apply.nlread import Unreadable, read_table
from op25b.render.nftables import transaction
from op25b.ruleset import Inventory

from .test_netlink_apply import CONFIGS, LAB, compiled, namespace, nft

pytestmark = pytest.mark.kernel


def via_nft(table: str):
    return parse_table(nft("list", "table", "inet", table), table)


@pytest.mark.parametrize("case", list(CONFIGS))
def test_reader_equals_nft_listing(tmp_path, case):
    target = compiled(tmp_path, CONFIGS[case])
    with namespace():
        nft("-f", "-", stdin=transaction(target, Inventory()))
        with QuerySocket() as query:
            read = read_table(query, target.table)
            assert read == via_nft(target.table)
            assert read == target  # and both equal what was applied
            assert read_table(query, "absent") is None


def test_reader_gives_up_on_a_rule_added_by_hand(tmp_path):
    target = compiled(tmp_path, LAB.format(action="reject"))
    with namespace():
        nft("-f", "-", stdin=transaction(target, Inventory()))
        nft("add", "rule", "inet", "op25b", "smtp_v4", "ip", "saddr", "192.0.2.7", "counter", "accept")
        with QuerySocket() as query, pytest.raises(Unreadable):
            read_table(query, "op25b")
        applier = KernelApplier()
        try:  # the applier falls back to nft, so plan shows the stray rule
            current = applier.current("op25b")
        finally:
            applier.close()
        assert "ip saddr 192.0.2.7 counter packets 0 bytes 0 accept" in current.chain_named("smtp_v4").rules


def test_a_flushed_set_reads_empty(tmp_path):
    target = compiled(tmp_path, LAB.format(action="drop"))
    with namespace():
        nft("-f", "-", stdin=transaction(target, Inventory()))
        subprocess.run(["nft", "flush", "set", "inet", "op25b", "dynamic_ftth_v6"], check=True)  # noqa: S603
        with QuerySocket() as query:
            read = read_table(query, "op25b")
        assert read.set_named("dynamic_ftth_v6").elements == () and read == via_nft("op25b")
