"""A netlink set delta A→B leaves the kernel exactly as a full apply of B does.

Each case applies A fully in one namespace and sends the delta A→B; a second namespace gets B
loaded by `nft -f` itself, the reference. Both tables are listed with nft and compared: parsed (diff → no changes) and as
text, so a stray boundary element would show even where the parse would merge it away.
"""

from __future__ import annotations

import subprocess
import uuid

import pytest

from op25b.apply.kernel import KernelApplier
from op25b.apply.nftparse import parse_table
from op25b.apply.setdelta import SetDeltaApplier, plan_delta
from op25b.diff import diff
from op25b.errors import KernelError
from op25b.reconcile import compile_file
from op25b.render.nftables import transaction
from op25b.ruleset import Inventory

from .netns import namespace

pytestmark = pytest.mark.kernel

BASE = """\
table: op25b
relays: [192.0.2.25]
pools:
  - name: ftth-east
    kind: dynamic
    mode: enforce
    prefixes: [{ftth}]
  - name: biz-fixed
    kind: static
    prefixes: [203.0.113.0/26]
exemptions: [{exemptions}]
"""
FTTH = ["198.51.100.0/28", "198.51.100.64/27", "2001:db8:1000::/40", "2001:db8:3000::/48"]


def ruleset(tmp_path, ftth, exemptions=()):
    text = BASE.format(ftth=", ".join(f'"{p}"' for p in ftth),
                       exemptions=", ".join(f'{{prefix: "{p}", reason: test}}' for p in exemptions))
    path = tmp_path / f"{uuid.uuid4().hex}.yaml"
    path.write_text(text)
    return compile_file(str(path)).ruleset


def listing() -> str:
    argv = ["nft", "list", "table", "inet", "op25b"]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout  # noqa: S603


def after_delta(a, b) -> str:
    with namespace():
        applier = KernelApplier()
        applier.apply(a, precheck=False)
        delta = plan_delta(a, b)
        assert delta is not None and delta
        sender = SetDeltaApplier()
        try:
            sender.apply(delta)
        finally:
            sender.close()
            applier.close()
        return listing()


def fresh(b) -> str:
    """The reference: B loaded by `nft -f` itself, from the transaction text."""
    with namespace():
        subprocess.run(["nft", "-f", "-"], input=transaction(b, Inventory()), text=True, check=True)  # noqa: S603
        return listing()


CASES = {
    "add one prefix": (FTTH, FTTH + ["198.51.100.200/32"], (), ()),
    "remove one prefix": (FTTH, FTTH[1:], (), ()),
    "add an exemption": (FTTH, FTTH, (), ("198.51.100.70/32",)),
    "merge with a neighbour": (FTTH, FTTH + ["198.51.100.16/28"], (), ()),
    "merge into a range that is no CIDR block": (FTTH, FTTH + ["198.51.100.16/28", "198.51.100.32/29"], (), ()),
    "split such a range": (FTTH + ["198.51.100.16/28", "198.51.100.32/29"], FTTH + ["198.51.100.32/29"], (), ()),
    "split by removal": (FTTH + ["198.51.100.16/28"], FTTH, (), ()),
    "ipv6 add and remove": (FTTH, FTTH[:2] + ["2001:db8:1000::/41", "2001:db8:4000::/64"], (), ()),
    "top of the address space": (FTTH, FTTH + ["255.255.255.0/24", "ffff:ffff::/32"], (), ()),
    "remove the last exemption": (FTTH, FTTH, ("198.51.100.70/32",), ()),
}


@pytest.mark.parametrize("case", list(CASES))
def test_delta_equals_full_apply(tmp_path, case):
    before, after, exempt_before, exempt_after = CASES[case]
    a, b = ruleset(tmp_path, before, exempt_before), ruleset(tmp_path, after, exempt_after)
    via_delta, via_full = after_delta(a, b), fresh(b)
    assert diff(parse_table(via_full, "op25b"), parse_table(via_delta, "op25b")) == []
    assert via_delta == via_full


def test_structural_change_needs_a_full_apply(tmp_path):
    a = ruleset(tmp_path, FTTH)
    b = ruleset(tmp_path, FTTH).__class__(a.table, a.counters[:-1], a.sets, a.chains)
    assert plan_delta(a, b) is None
    assert plan_delta(None, a) is None


def test_a_stale_delta_is_refused_whole(tmp_path):
    a = ruleset(tmp_path, FTTH)
    b = ruleset(tmp_path, FTTH[1:] + ["198.51.100.200/32"])
    with namespace():
        applier = KernelApplier()
        applier.apply(b, precheck=False)  # the kernel already holds B, not the A we claim
        before = listing()
        sender = SetDeltaApplier()
        try:
            with pytest.raises(KernelError):
                sender.apply(plan_delta(a, b))
        finally:
            sender.close()
            applier.close()
        assert listing() == before


def test_a_large_delta_fits_one_batch(tmp_path):
    """Hundreds of intervals: several element messages in one batch, still one transaction."""
    many = [f"2001:db8:{i:x}::/48" for i in range(0x4000, 0x4000 + 2 * 900, 2)]
    a, b = ruleset(tmp_path, FTTH), ruleset(tmp_path, FTTH + many)
    assert plan_delta(a, b, max_intervals=len(many)).size == len(many)
    assert plan_delta(a, b, max_intervals=len(many) - 1) is None
    assert after_delta(a, b) == fresh(b)
