"""End to end in the lab: real TCP connections and real SMTP (swaks → aiosmtpd) through a router
whose kernel runs op25b's table; v4 and v6; every action; counters and plan/apply semantics."""

from __future__ import annotations

import shutil
import sys

import pytest

from op25b.lab.topology import ADDRESSES, INTERNET_V4, INTERNET_V6, RELAY_V4, RELAY_V6, lab_config

pytestmark = pytest.mark.kernel

BLOCKED = {"reject": "refused", "drop": "timeout", "admin-prohibited": "unreachable"}
FAMILIES = [(0, INTERNET_V4, RELAY_V4), (1, INTERNET_V6, RELAY_V6)]


@pytest.mark.parametrize("action", ["reject", "drop", "admin-prohibited"])
def test_every_subscriber_kind_gets_the_policy_verdict(lab, listener, op25b, connect, counters, action):
    op25b("apply", config_text=lab_config(action=action))
    for index, internet, relay in FAMILIES:
        dynamic = ADDRESSES["dynamic"][index]
        assert connect(dynamic, internet, 25) == BLOCKED[action]
        assert connect(dynamic, internet, 587) == "accepted"  # RFC 5068: never block 587
        assert connect(dynamic, internet, 465) == "accepted"  # RFC 8314 implicit TLS
        assert connect(dynamic, relay, 25) == "accepted"  # the ISP's relay stays reachable
        for kind in ("monitor", "static", "exempt", "nopool"):
            assert connect(ADDRESSES[kind][index], internet, 25) == "accepted", kind
    seen = counters()
    if action == "reject":  # one SYN per refused connection, answered at once by a RST
        assert seen["blocked_ftth-east_v4"] == 1 and seen["blocked_ftth-east_v6"] == 1
    else:  # a dropped SYN may be retried by the client's TCP before it gives up
        assert seen["blocked_ftth-east_v4"] >= 1 and seen["blocked_ftth-east_v6"] >= 1
    for name in ("would_block_cable-west_v4", "would_block_cable-west_v6", "exempt_v4", "exempt_v6",
                 "relay_v4", "relay_v6", "submission_587_v4", "submission_465_v6"):
        assert seen[name] > 0, name


@pytest.mark.skipif(not shutil.which("swaks"), reason="swaks is not installed (scripts/setup.sh installs it)")
def test_real_smtp_client_and_server(lab, listener, op25b):
    op25b("apply")

    def swaks(source: str, server: str, port: int) -> int:
        return lab.run(lab.sub, "swaks", "--server", server, "--port", str(port), "--from", "user@example.org",
                       "--to", "postmaster@example.com", "--local-interface", source, "--timeout", "3",
                       "--silent", "2", check=False).returncode

    dynamic_v4, dynamic_v6 = ADDRESSES["dynamic"]
    assert swaks(dynamic_v4, INTERNET_V4, 25) != 0, "direct-to-MX from a dynamic address must fail"
    assert swaks(dynamic_v4, INTERNET_V4, 587) == 0, "submission must work"
    assert swaks(dynamic_v6, INTERNET_V6, 25) != 0
    assert swaks(dynamic_v6, RELAY_V6, 25) == 0, "the ISP relay must accept mail"
    assert swaks(ADDRESSES["static"][0], INTERNET_V4, 25) == 0, "static ranges are exempt"
    assert swaks(ADDRESSES["exempt"][1], INTERNET_V6, 25) == 0, "an exempted subscriber may send"


def test_plan_is_clean_after_apply_and_counters_survive_set_changes(lab, listener, op25b, connect, counters):
    first = op25b("plan", check=False)
    assert first.returncode == 1 and "+ table inet op25b" in first.stdout
    op25b("apply")
    assert op25b("plan", check=False).returncode == 0
    dynamic_v4 = ADDRESSES["dynamic"][0]
    assert connect(dynamic_v4, INTERNET_V4, 25) == "refused"
    before = counters()["blocked_ftth-east_v4"]
    assert before == 1

    grown = lab_config().replace("prefixes: [198.51.100.0/25,", "prefixes: [198.51.100.0/25, 198.51.100.224/27,")
    pending = op25b("plan", config_text=grown, check=False)
    assert pending.returncode == 1 and "~ set dynamic_ftth-east_v4: +1 -0" in pending.stdout
    op25b("apply")
    assert op25b("plan", check=False).returncode == 0
    assert counters()["blocked_ftth-east_v4"] == before, "a re-apply must not reset counters"
    assert connect(ADDRESSES["nopool"][0], INTERNET_V4, 25) == "accepted"  # .200 is not in .224/27

    moved = lab_config().replace("prefixes: [198.51.100.0/25,", "prefixes: [198.51.100.0/25, 198.51.100.192/27,")
    moved = moved.replace("198.51.100.208/28", "203.0.113.128/28")  # keep dynamic pools disjoint
    op25b("apply", config_text=moved)
    assert connect(ADDRESSES["nopool"][0], INTERNET_V4, 25) == "refused"  # .200 is in .192/27 now


def test_pool_switched_from_monitor_to_enforce(lab, listener, op25b, connect, counters):
    op25b("apply")
    monitor_v6 = ADDRESSES["monitor"][1]
    assert connect(monitor_v6, INTERNET_V6, 25) == "accepted"
    op25b("apply", config_text=lab_config().replace("mode: monitor", "mode: enforce"))
    assert connect(monitor_v6, INTERNET_V6, 25) == "refused"
    stats = counters()
    assert stats["blocked_cable-west_v6"] == 1 and "would_block_cable-west_v6" not in stats


def test_a_refused_transaction_leaves_the_kernel_as_it_was(lab, op25b, tmp_path):
    op25b("apply")
    before = lab.run(lab.router, "nft", "list", "table", "inet", "op25b").stdout
    script = f"""
import dataclasses, sys
from op25b.apply.kernel import KernelApplier
from op25b.errors import KernelError
from op25b.reconcile import compile_file
ruleset = compile_file({str(tmp_path / 'op25b.yaml')!r}).ruleset
chains = list(ruleset.chains)
chains[-1] = dataclasses.replace(chains[-1], rules=chains[-1].rules + ("ip saddr @no_such_set drop",))
try:
    KernelApplier().apply(dataclasses.replace(ruleset, chains=tuple(chains)), precheck=False)
except KernelError as error:
    print("refused:", error)
    sys.exit(0)
sys.exit(1)
"""
    refused = lab.run(lab.router, sys.executable, "-c", script)
    assert "kept its previous rules" in refused.stdout
    assert lab.run(lab.router, "nft", "list", "table", "inet", "op25b").stdout == before


def test_remove_deletes_only_our_table(lab, op25b):
    lab.run(lab.router, "nft", "-f", "-", input="table inet hostfw {\n chain input {\n"
            " type filter hook input priority 0; policy accept;\n tcp dport 22 accept\n }\n}\n")
    hostfw = lab.run(lab.router, "nft", "list", "table", "inet", "hostfw").stdout
    op25b("apply")
    op25b("remove")
    tables = lab.run(lab.router, "nft", "list", "tables").stdout
    assert "inet op25b" not in tables and "inet hostfw" in tables
    assert lab.run(lab.router, "nft", "list", "table", "inet", "hostfw").stdout == hostfw
    assert "nothing to do" in op25b("remove").stdout


def test_explain_matches_what_the_lab_shows(op25b):
    dynamic_v4 = ADDRESSES["dynamic"][0]
    assert "BLOCKED" in op25b("explain", dynamic_v4).stdout
    assert "PASS" in op25b("explain", dynamic_v4, "--to", RELAY_V4).stdout
    assert "exempt" in op25b("explain", ADDRESSES["exempt"][0]).stdout
    assert "WOULD BLOCK" in op25b("explain", ADDRESSES["monitor"][1]).stdout
    bad = op25b("explain", "not-an-address", check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "error:" in bad.stderr
