"""The netlink batch op25b encodes itself (apply/nlbatch.py) loads exactly what `nft -f` of the
rendered transaction loads.

Each case is applied two ways into two fresh namespaces, from the same starting table: through
KernelApplier.apply (netlink), and through `nft -f` of render.nftables.transaction() (the
reference). Both kernels are then listed with nft, as text and as JSON without handles, and must
be identical: every rule form, set declaration, counter, hook and element boundary.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest

from op25b.apply.kernel import KernelApplier
from op25b.apply.nfquery import QuerySocket
from op25b.errors import KernelError
from op25b.reconcile import compile_file
from op25b.render.nftables import transaction
from op25b.ruleset import ChainSpec, Ruleset

from .netns import namespace

pytestmark = pytest.mark.kernel

RENDER = Path(__file__).parent.parent / "data" / "render"
LAB = """\
table: op25b
action: {action}
relays: [192.0.2.25, "2001:db8:25::25"]
pools:
  - name: ftth
    kind: dynamic
    mode: enforce
    prefixes: [198.51.100.0/25, "2001:db8:1000::/40", 255.255.255.0/24, "ffff:ffff::/32"]
  - name: cable
    kind: dynamic
    mode: monitor
    # adjacent: one merged range that is not a CIDR block, loaded as two blocks like nft -f does
    prefixes: [198.51.100.128/26, 198.51.100.192/27, "2001:db8:2100::/40", "2001:db8:2200::/40"]
  - name: biz
    kind: static
    prefixes: [203.0.113.0/26, "2001:db8:3000::/48"]
exemptions:
  - {{prefix: 198.51.100.77, reason: own MTA}}
"""


def nft(*args: str, stdin: str | None = None) -> str:
    return subprocess.run(["nft", *args], input=stdin, capture_output=True, text=True, check=True).stdout  # noqa: S603


def listing() -> tuple[str, list]:
    text = nft("list", "ruleset")
    objects = json.loads(nft("-j", "list", "ruleset"))["nftables"]
    for item in objects:
        for body in item.values():
            if isinstance(body, dict):
                body.pop("handle", None)
    return text, objects


def compiled(tmp_path: Path, text: str) -> Ruleset:
    path = tmp_path / f"{uuid.uuid4().hex}.yaml"
    path.write_text(text)
    return compile_file(str(path)).ruleset


def via_netlink(start: Ruleset | None, target: Ruleset):
    with namespace():
        applier = KernelApplier()
        try:
            if start is not None:
                nft("-f", "-", stdin=transaction(start, applier.inventory(start.table)))
            summary = applier.apply(target)
        finally:
            applier.close()
        assert summary.startswith("netlink batch"), summary  # not the nft fallback
        return listing()


def via_nft(start: Ruleset | None, target: Ruleset):
    with namespace():
        reader = QuerySocket()
        try:
            if start is not None:
                nft("-f", "-", stdin=transaction(start, reader.inventory(start.table)))
            nft("-f", "-", stdin=transaction(target, reader.inventory(target.table)))
        finally:
            reader.close()
        return listing()


def configs() -> dict[str, str]:
    cases = {f"golden {path.stem}": path.read_text() for path in sorted(RENDER.glob("*.yaml"))}
    for action in ("reject", "drop", "admin-prohibited"):
        cases[f"lab {action}"] = LAB.format(action=action)
    return cases


CONFIGS = configs()


@pytest.mark.parametrize("case", list(CONFIGS))
def test_fresh_load_equals_nft(tmp_path, case):
    target = compiled(tmp_path, CONFIGS[case])
    assert via_netlink(None, target) == via_nft(None, target)


TRANSITIONS = {
    # from → to: every kind of difference the batch must handle on a loaded table
    "contents only": ("lab reject", LAB.format(action="reject").replace("198.51.100.128/26, ", "")),
    "action and pools change": ("lab reject", CONFIGS["golden merge_admin"]),
    "hook priority changes": ("golden drop_interfaces",
                              CONFIGS["golden drop_interfaces"].replace("chain_priority: 5", "chain_priority: 7")),
    "offenders declaration changes": ("lab drop", LAB.format(action="drop") + "offenders:\n  size: 1024\n"),
    "offenders disabled, interfaces on": ("lab drop", LAB.format(action="drop")
                                          + 'offenders:\n  enabled: false\nsubscriber_interfaces: ["ppp*"]\n'),
}


@pytest.mark.parametrize("case", list(TRANSITIONS))
def test_reapply_over_a_loaded_table_equals_nft(tmp_path, case):
    start_case, target_text = TRANSITIONS[case]
    start, target = compiled(tmp_path, CONFIGS[start_case]), compiled(tmp_path, target_text)
    assert start != target
    assert via_netlink(start, target) == via_nft(start, target)


def with_rule(ruleset: Ruleset, chain: str, rule: str) -> Ruleset:
    """`ruleset` with one more rule at the end of `chain`."""
    chains = tuple(ChainSpec(c.name, c.rules + (rule,), c.hook) if c.name == chain else c for c in ruleset.chains)
    return Ruleset(ruleset.table, ruleset.counters, ruleset.sets, chains)


def test_a_refused_batch_changes_nothing(tmp_path):
    good = compiled(tmp_path, LAB.format(action="reject"))
    broken = with_rule(good, "smtp_v4", "ip saddr @no_such_set return")
    with namespace():
        applier = KernelApplier()
        try:
            applier.apply(good)
            before = listing()
            for precheck in (True, False):
                with pytest.raises(KernelError, match="no_such_set"):
                    applier.apply(broken, precheck=precheck)
                assert listing() == before
        finally:
            applier.close()


def test_check_is_a_dry_run(tmp_path):
    target = compiled(tmp_path, LAB.format(action="reject"))
    with namespace():
        applier = KernelApplier()
        try:
            applier.check(target)
            assert nft("list", "ruleset") == ""
            applier.apply(target)
            assert "dynamic_ftth_v4" in nft("list", "ruleset")
        finally:
            applier.close()


def test_a_rule_outside_the_encoder_goes_through_nft(tmp_path):
    good = compiled(tmp_path, LAB.format(action="reject"))
    odd = with_rule(good, "smtp_v4", "ip saddr 192.0.2.1 return")
    with namespace():
        applier = KernelApplier()
        try:
            summary = applier.apply(odd)
        finally:
            applier.close()
        assert summary.startswith("add table inet op25b")  # the nft script was sent
        assert "ip saddr 192.0.2.1 return" in nft("list", "chain", "inet", "op25b", "smtp_v4")


def test_struct_inventory_agrees_with_pyroute2(tmp_path):
    """nfquery decodes the inventory with struct; pyroute2's generic decoder is the cross-check."""
    from op25b.apply.netlink import NetlinkReader

    with namespace():
        applier = KernelApplier()
        try:
            applier.apply(compiled(tmp_path, CONFIGS["golden drop_interfaces"]))
            applier.apply(compiled(tmp_path, LAB.format(action="reject")))
            reader = NetlinkReader()
            try:
                for table in ("op25b", "op25b_edge", "absent"):
                    assert applier.inventory(table) == reader.inventory(table)
                    assert applier.counters(table) == reader.counters(table)
            finally:
                reader.close()
        finally:
            applier.close()
