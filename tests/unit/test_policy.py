"""Pure stages: prefix math, pool algebra, the verdict oracle, and the Fake applier's transaction."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from op25b.addresses import merge, parse_prefix, to_prefixes
from op25b.apply.fake import FakeApplier
from op25b.config import load_config
from op25b.errors import ConfigError, KernelError
from op25b.reconcile import apply, compile_file, plan

CONFIG = """\
relays: [192.0.2.25, "2001:db8:25::25"]
pools:
  - name: east
    kind: dynamic
    mode: enforce
    prefixes: [198.51.100.0/25, "2001:db8:1000::/40"]
  - name: west
    kind: dynamic
    mode: monitor
    prefixes: [198.51.100.128/26]
  - name: dark
    kind: dynamic
    mode: off
    prefixes: [198.51.100.192/27]
  - name: biz
    kind: static
    prefixes: [203.0.113.0/26, 198.51.100.64/28]
exemptions:
  - prefix: 198.51.100.7/32
    reason: own MTA
  - prefix: 198.51.100.9/32
    reason: old grant
    expires: 2020-01-01
"""


@pytest.fixture
def compiled(tmp_path):
    path = tmp_path / "op25b.yaml"
    path.write_text(CONFIG)
    return compile_file(str(path), dt.date(2026, 12, 4))


@pytest.mark.parametrize(("source", "port", "dest", "action", "words"), [
    ("198.51.100.10", 25, None, "blocked", "'east' (mode enforce)"),
    ("198.51.100.10", 587, None, "pass", "submission port"),
    ("198.51.100.10", 443, None, "pass", "not a blocked port"),
    ("198.51.100.10", 25, "192.0.2.25", "pass", "relays"),
    ("198.51.100.7", 25, None, "pass", "exemption 198.51.100.7/32 (own MTA)"),
    ("198.51.100.9", 25, None, "blocked", "'east'"),  # expired exemption no longer exempts
    ("198.51.100.70", 25, None, "pass", "static pool 'biz'"),  # static wins over dynamic
    ("198.51.100.130", 25, None, "would-block", "monitor"),
    ("198.51.100.200", 25, None, "pass", "mode is off"),
    ("198.51.100.240", 25, None, "pass", "in no pool"),
    ("2001:db8:1000::1", 25, "2001:db8:ffff::1", "blocked", "'east'"),
    ("2001:db8:1000::1", 25, "2001:db8:25::25", "pass", "relays"),
])
def test_verdict_follows_the_kernel_rule_order(compiled, source, port, dest, action, words):
    from op25b.policy import verdict

    result = verdict(compiled.policy, source, port, dest)
    assert result.action == action and words in result.reason, result


def test_overlaps_with_static_and_exemptions_are_reported_not_refused(compiled):
    labels = {(o.first, o.second.split(" (")[0]) for o in compiled.policy.overlaps}
    assert ("dynamic pool 'east'", "static pool 'biz'") in labels
    assert ("dynamic pool 'east'", "1 exemption(s)") in labels
    assert compiled.policy.expired == ("exemption 198.51.100.9/32 expired on 2020-01-01",)


def test_overlapping_dynamic_pools_are_refused(tmp_path):
    path = tmp_path / "op25b.yaml"
    path.write_text(CONFIG.replace("prefixes: [198.51.100.128/26]", "prefixes: [198.51.100.96/27]"))
    with pytest.raises(ConfigError) as caught:
        compile_file(str(path))
    assert "'east' and 'west' overlap at 198.51.100.96" in str(caught.value)
    assert "op25b.yaml:" in str(caught.value)


def test_merge_and_cidr_cover_exactly():
    rng = random.Random(7)
    prefixes = [parse_prefix(f"10.{rng.randrange(4)}.{rng.randrange(256)}.{rng.randrange(0, 256, 16)}/28")
                for _ in range(500)]
    merged = merge((p.start, p.end) for p in prefixes)
    addresses = {a for p in prefixes for a in range(p.start, p.end + 1)}
    covered = {a for q in to_prefixes("ipv4", merged) for a in range(q.start, q.end + 1)}
    assert covered == addresses
    assert all(b[0] > a[1] + 1 for a, b in zip(merged, merged[1:], strict=False)), "merged intervals must not touch"


def test_render_is_deterministic_whatever_the_input_order(tmp_path):
    from op25b.render.nftables import ruleset_text

    def rendered(order: list[str]) -> str:
        path = tmp_path / "c.yaml"
        path.write_text("pools:\n  - name: p\n    kind: dynamic\n    prefixes: [" + ", ".join(order) + "]\n")
        return ruleset_text(compile_file(str(path)).ruleset)

    nets = [f"198.51.100.{i * 16}/28" for i in range(0, 16, 3)] + ['"2001:db8::/48"', '"2001:db8:1::/48"']
    shuffled = nets[:]
    random.Random(1).shuffle(shuffled)
    assert rendered(nets) == rendered(shuffled)


def test_fake_applier_round_trip_and_refusal(compiled):
    fake = FakeApplier()
    assert plan(compiled, fake)[0].startswith("+ table inet op25b")
    result = apply(compiled, fake)
    assert result.applied and "add table inet op25b" in result.script
    assert plan(compiled, fake) == []
    assert "set dynamic_east_v4" in fake.dump("op25b")
    assert "dark" not in fake.dump("op25b"), "an off pool has no kernel objects"
    fake.fail_next = "simulated refusal"
    with pytest.raises(KernelError):
        apply(compiled, fake)
    assert plan(compiled, fake) == [], "a refused apply changes nothing"


def test_transaction_deletes_what_is_no_longer_wanted(compiled, tmp_path):
    from op25b.render.nftables import transaction
    from op25b.ruleset import Inventory

    current = Inventory(True, {"forward": "old hook", "stale_chain": None},
                        {"dynamic_gone_v4": ("ipv4_addr", "interval", None, None)},
                        frozenset({"blocked_gone_v4"}))
    script = transaction(compiled.ruleset, current)
    assert "delete chain inet op25b stale_chain" in script
    assert "delete set inet op25b dynamic_gone_v4" in script
    assert "delete counter inet op25b blocked_gone_v4" in script
    # The base chain's hook changed: it is recreated, after its rules are flushed.
    assert script.index("flush chain inet op25b forward") < script.index("delete chain inet op25b forward")
    assert "flush set inet op25b offenders_v4" not in script, "kernel-filled offender sets are never flushed"


def test_config_keeps_the_sha256_of_the_file(tmp_path):
    import hashlib

    path = tmp_path / "op25b.yaml"
    path.write_text(CONFIG)
    assert load_config(path).sha256 == hashlib.sha256(CONFIG.encode()).hexdigest()


def test_public_api():
    import op25b

    assert set(op25b.__all__) == {"__version__", "Op25bError", "ConfigError", "KernelError", "RenderError",
                                  "StateError"}
    assert all(hasattr(op25b, name) for name in op25b.__all__)


def test_explain_cli_json_and_errors():
    import json
    import subprocess
    import sys
    from pathlib import Path

    example = str(Path(__file__).parent.parent.parent / "examples" / "op25b.yaml")
    done = subprocess.run([sys.executable, "-m", "op25b", "explain", "-c", example, "2001:db8:2000::5", "--json"],
                          capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) | {"reason": ""} == {"address": "2001:db8:2000::5", "port": 25, "destination": None,
                                                      "action": "would-block", "pool": "cable-west", "reason": ""}
    bad = subprocess.run([sys.executable, "-m", "op25b", "explain", "-c", example, "198.51.100.300"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "Traceback" not in bad.stderr
