"""Differential test: the kernel's verdict equals `op25b explain`'s (policy.verdict) for every probe.

Scapy sends one SYN from each of ≥2,000 distinct random sources, drawn across every pool kind,
mode, exemption (active and expired), relay destination and unpooled space, v4 and v6. An observer
table of the test's own (priority 100, after op25b's -10) records which sources got through, and
op25b's offender sets record which sources hit a dynamic-pool rule. Together they give the kernel's
verdict per probe: blocked = offender and not seen; would-block = offender and seen; pass = seen.
"""

from __future__ import annotations

import ipaddress
import json
import random
import sys

import pytest

from op25b.config import load_config
from op25b.lab import Lab
from op25b.lab.topology import INTERNET_V4, INTERNET_V6, RELAY_V4, RELAY_V6, lab_config
from op25b.policy import compile_policy, verdict

pytestmark = pytest.mark.kernel

OBSERVER = """
table inet observe {
  set seen_v4 { type ipv4_addr; size 65536; flags dynamic; }
  set seen_v6 { type ipv6_addr; size 65536; flags dynamic; }
  chain forward {
    type filter hook forward priority 100; policy accept;
    iifname "rsub" meta nfproto ipv4 tcp flags syn add @seen_v4 { ip saddr }
    iifname "rsub" meta nfproto ipv6 tcp flags syn add @seen_v6 { ip6 saddr }
  }
}
"""

V4_SPACE = ["198.51.100.0/24", "203.0.113.0/25"]  # pools, exemptions and unpooled addresses
V6_SPACE = ["2001:db8:1000::/40", "2001:db8:2000::/40", "2001:db8:3000::/48", "2001:db8:4000::/40",
            "2001:db8:5000::/40"]
V6_EXEMPT = ["2001:db8:1000::77"]


def draw_probes(rng: random.Random, v4_count: int, v6_count: int) -> list[tuple[str, str, int]]:
    v4 = [str(a) for net in V4_SPACE for a in ipaddress.ip_network(net)]
    sources = rng.sample(v4, v4_count) + ["198.51.100.77", "198.51.100.99"]  # active and expired exemptions
    v6: set[str] = set(V6_EXEMPT)
    while len(v6) < v6_count:
        net = ipaddress.ip_network(rng.choice(V6_SPACE))
        v6.add(str(net[rng.randrange(net.num_addresses)]))
    sources += sorted(v6)
    probes = []
    for source in dict.fromkeys(sources):
        six = ":" in source
        roll = rng.random()
        destination = (RELAY_V6 if six else RELAY_V4) if roll < 0.1 else (INTERNET_V6 if six else INTERNET_V4)
        port = 25 if roll < 0.8 else rng.choice([587, 465, 80, 2525])
        probes.append((source, destination, port))
    return probes


def read_set(lab: Lab, table: str, name: str) -> set[str]:
    listing = json.loads(lab.run(lab.router, "nft", "-j", "list", "set", "inet", table, name).stdout)
    for item in listing["nftables"]:
        if "set" in item:
            return {e["elem"]["val"] if isinstance(e, dict) else e for e in item["set"].get("elem", [])}
    return set()


def test_kernel_verdicts_equal_explain_for_every_probe(tmp_path):
    rng = random.Random(20261204)
    config_path = tmp_path / "op25b.yaml"
    config_path.write_text(lab_config())
    policy = compile_policy(load_config(config_path))
    probes = draw_probes(rng, v4_count=360, v6_count=1700)
    assert len(probes) >= 2000

    with Lab() as lab:
        lab.run(lab.router, sys.executable, "-m", "op25b", "apply", "-c", str(config_path))
        lab.run(lab.router, "nft", "-f", "-", input=OBSERVER)
        router_mac = lab.mac(lab.router, "rsub")
        sent = lab.run(lab.sub, sys.executable, "-m", "op25b.lab.probe", "sub0", router_mac,
                       input=json.dumps(probes), timeout=300)
        assert sent.stdout.strip() == f"sent {len(probes)}"
        lab.run(lab.router, "sleep", "0.5")
        seen = read_set(lab, "observe", "seen_v4") | read_set(lab, "observe", "seen_v6")
        offenders = read_set(lab, "op25b", "offenders_v4") | read_set(lab, "op25b", "offenders_v6")
        counters = json.loads(lab.run(lab.router, sys.executable, "-m", "op25b", "stats", "-c",
                                      str(config_path), "--json").stdout)

    def kernel_verdict(source: str) -> str:
        if source in offenders:
            return "would-block" if source in seen else "blocked"
        return "pass" if source in seen else "lost"

    expected = {p: verdict(policy, p[0], p[2], p[1]) for p in probes}
    mismatches = [(p, expected[p].action, kernel_verdict(p[0])) for p in probes
                  if expected[p].action != kernel_verdict(p[0])]
    tally = {kind: sum(1 for v in expected.values() if v.action == kind) for kind in ("blocked", "would-block", "pass")}
    print(f"\ndifferential: {len(probes)} probes ({sum(':' not in p[0] for p in probes)} v4, "
          f"{sum(':' in p[0] for p in probes)} v6), oracle {tally}, mismatches {len(mismatches)}")
    assert mismatches == [], mismatches[:10]
    assert min(tally.values()) > 50, "every verdict must be exercised"

    # The kernel's counters equal the oracle's tally, pool by pool and family by family.
    for family, suffix in (("ipv4", "v4"), ("ipv6", "v6")):
        fam = [p for p in probes if (":" in p[0]) == (family == "ipv6")]
        for name, action in (("ftth-east", "blocked"), ("cable-west", "would-block")):
            want = sum(1 for p in fam if expected[p].action == action and expected[p].pool == name)
            key = f"{'blocked' if action == 'blocked' else 'would_block'}_{name}_{suffix}"
            assert counters[key]["packets"] == want, (key, counters[key], want)
        relay = sum(1 for p in fam if p[2] == 25 and p[1] in (RELAY_V4, RELAY_V6))
        assert counters[f"relay_{suffix}"]["packets"] == relay
        exempt = sum(1 for p in fam if p[2] == 25 and "exempt" in expected[p].reason)
        assert counters[f"exempt_{suffix}"]["packets"] == exempt
