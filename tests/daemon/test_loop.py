"""The reconcile loop against the real kernel: drift repair, SIGHUP, stop/restart, restore."""

from __future__ import annotations

import re
import signal
import stat
import sys
import time

import pytest

from op25b.lab.topology import ADDRESSES, INTERNET_V4, INTERNET_V6

from .conftest import Daemon, daemon_config, wait_for

pytestmark = pytest.mark.kernel
INTERVAL = 1  # reconcile_interval of daemon_config(): a repair must land within about one interval


def plan_clean(lab, config_path) -> bool:
    return lab.run(lab.router, sys.executable, "-m", "op25b", "plan", "-c", str(config_path),
                   check=False).returncode == 0


def repairs(daemon) -> float:
    return daemon.value("op25b_drift_repairs_total") or 0


def generation(lab) -> int:
    code = "from op25b.apply.nfquery import QuerySocket; print(QuerySocket().generation())"
    return int(lab.run(lab.router, sys.executable, "-c", code).stdout)


def table_text(nft) -> str:
    """The table with its counter values; offender entries' countdowns tick, so they are cut."""
    return re.sub(r" expires \S+", "", nft("list", "table", "inet", "op25b").stdout)


DRIFTS = {
    "table deleted": [("delete", "table", "inet", "op25b")],
    "ruleset flushed": [("flush", "ruleset")],
    "element added to a set": [("add", "element", "inet", "op25b", "dynamic_ftth-east_v4", "{ 198.51.100.200 }")],
    "rule inserted": [("insert", "rule", "inet", "op25b", "smtp_v4", "ip", "saddr", "198.51.100.10", "accept")],
    "chain flushed": [("flush", "chain", "inet", "op25b", "smtp_v6")],
    "element removed from a set": [("delete", "element", "inet", "op25b", "exempt_v4", "{ 198.51.100.77 }")],
    "base chain deleted": [("flush", "chain", "inet", "op25b", "forward"),
                           ("delete", "chain", "inet", "op25b", "forward")],
}


def test_each_drift_is_repaired_within_one_interval_and_counted(lab, daemon, nft, config_path):
    assert plan_clean(lab, config_path)
    for count, (name, commands) in enumerate(DRIFTS.items(), start=1):
        changed = time.monotonic()
        for command in commands:
            nft(*command)  # check=True: the drift took
        wait_for(lambda count=count: repairs(daemon) >= count, 3 * INTERVAL + 5, f"repair of: {name}")
        took = time.monotonic() - changed
        assert took < 2 * INTERVAL + 2, f"{name}: repaired after {took:.1f} s"
        assert plan_clean(lab, config_path), name
    assert repairs(daemon) == len(DRIFTS)
    assert "drift repaired" in daemon.log()


def test_changes_to_other_tables_are_not_drift(lab, daemon, nft, config_path):
    nft("add", "table", "inet", "someone_else")
    nft("add", "chain", "inet", "someone_else", "c")
    passes = daemon.passes()
    wait_for(lambda: daemon.passes() >= passes + 2, 10, "two more passes")
    assert repairs(daemon) == 0
    assert nft("list", "tables").stdout.count("someone_else") == 1  # and we never touch theirs


def test_sighup_with_a_broken_config_keeps_rules_and_counters(lab, daemon, nft, config_path, listener, connect):
    for _ in range(3):
        assert connect(ADDRESSES["dynamic"][0], INTERNET_V4, 25) == "refused"
    before_text, before_generation = table_text(nft), generation(lab)
    good = config_path.read_text()
    config_path.write_text(good.replace("kind: dynamic", "kind: dynamc", 1))
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: daemon.value("op25b_config_reload_errors_total") == 1, 10, "the reload error to be counted")
    time.sleep(2 * INTERVAL)  # passes keep running on the last good configuration
    assert table_text(nft) == before_text  # rules and counter values alike
    assert generation(lab) == before_generation  # not one commit
    assert daemon.value("op25b_blocked_packets_total", pool="ftth-east", family="ipv4") == 3
    assert daemon.process.poll() is None
    assert "reload refused" in daemon.log() and "dynamc" in daemon.log()


def test_sighup_with_a_new_pool_applies_it_and_keeps_counters(lab, daemon, nft, config_path, tmp_path,
                                                              listener, connect):
    for _ in range(2):
        assert connect(ADDRESSES["dynamic"][0], INTERNET_V4, 25) == "refused"
    assert connect(ADDRESSES["nopool"][1], INTERNET_V6, 25) == "accepted"
    new_pool = '  - name: late-pool\n    kind: dynamic\n    mode: enforce\n    prefixes: ["2001:db8:4000::/40"]\n'
    text = daemon_config(tmp_path).replace("  - name: biz-fixed", new_pool + "  - name: biz-fixed")
    config_path.write_text(text)
    sent = time.monotonic()
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: "dynamic_late-pool_v6" in nft("list", "sets", "inet").stdout, 10, "the new pool's set")
    print(f"SIGHUP → new pool in the kernel: {time.monotonic() - sent:.3f} s")
    assert connect(ADDRESSES["nopool"][1], INTERNET_V6, 25) == "refused"
    assert plan_clean(lab, config_path)
    wait_for(lambda: daemon.value("op25b_blocked_packets_total", pool="late-pool", family="ipv6") == 1, 5,
             "the new pool's counter")
    assert daemon.value("op25b_blocked_packets_total", pool="ftth-east", family="ipv4") == 2
    assert repairs(daemon) == 0  # a configuration change is not drift


def test_a_one_prefix_change_is_committed_as_a_set_delta(lab, daemon, nft, config_path, tmp_path, listener,
                                                         connect):
    assert connect(ADDRESSES["nopool"][0], INTERNET_V4, 25) == "accepted"
    grown = daemon_config(tmp_path).replace("prefixes: [198.51.100.0/25,", "prefixes: [198.51.100.0/25, 198.51.100.200/32,")
    assert grown != daemon_config(tmp_path)
    config_path.write_text(grown)
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: "set delta of 1 interval(s)" in daemon.log(), 10, "the change to be committed as a set delta")
    assert connect(ADDRESSES["nopool"][0], INTERNET_V4, 25) == "refused"
    assert plan_clean(lab, config_path), "a delta must leave the kernel exactly as a full apply would"
    assert repairs(daemon) == 0


def test_an_edited_config_file_is_picked_up_by_the_next_pass_without_sighup(lab, daemon, nft, config_path,
                                                                            tmp_path, connect):
    broken = config_path.read_text().replace("kind: dynamic", "kind: dynamc", 1)
    before_text = table_text(nft)
    config_path.write_text(broken)
    wait_for(lambda: daemon.value("op25b_config_reload_errors_total") == 1, 10, "the refused edit to be counted")
    time.sleep(3 * INTERVAL)
    assert daemon.value("op25b_config_reload_errors_total") == 1, "the same bad content is refused once"
    assert table_text(nft) == before_text
    new_pool = '  - name: late-pool\n    kind: dynamic\n    mode: enforce\n    prefixes: ["2001:db8:4000::/40"]\n'
    config_path.write_text(daemon_config(tmp_path).replace("  - name: biz-fixed", new_pool + "  - name: biz-fixed"))
    wait_for(lambda: "dynamic_late-pool_v6" in nft("list", "sets", "inet").stdout, 10, "the edited pool's set")
    assert connect(ADDRESSES["nopool"][1], INTERNET_V6, 25) == "refused"
    assert plan_clean(lab, config_path)


def test_stop_keeps_the_rules_and_restart_adopts_them_without_a_commit(lab, daemon, nft, config_path,
                                                                       listener, connect, tmp_path):
    assert connect(ADDRESSES["dynamic"][0], INTERNET_V4, 25) == "refused"
    assert daemon.stop() == 0
    assert connect(ADDRESSES["dynamic"][0], INTERNET_V4, 25) == "refused"  # fail-static
    before = generation(lab)
    again = Daemon(lab.router, config_path, tmp_path / "daemon2.log").start()
    try:
        assert generation(lab) == before  # adopted: no transaction, so no gap, nothing reset
        assert again.value("op25b_reconcile_total", result="unchanged") >= 1
        assert again.value("op25b_reconcile_total", result="applied") == 0
        assert again.value("op25b_blocked_packets_total", pool="ftth-east", family="ipv4") == 2  # both probes
    finally:
        again.kill_group()


def test_on_stop_remove_deletes_only_our_table(lab, nft, tmp_path):
    config_path = tmp_path / "op25b.yaml"
    config_path.write_text(daemon_config(tmp_path, extra="on_stop: remove\n"))
    nft("add", "table", "inet", "someone_else")
    daemon = Daemon(lab.router, config_path, tmp_path / "daemon.log").start()
    try:
        assert "op25b" in nft("list", "tables").stdout
        assert daemon.stop() == 0
    finally:
        daemon.kill_group()
    assert nft("list", "tables").stdout.split() == ["table", "inet", "someone_else"]


def test_restore_brings_back_the_last_applied_ruleset(lab, daemon, nft, config_path, tmp_path):
    state_file = tmp_path / "state" / "ruleset.nft"
    wait_for(state_file.exists, 10, "the state file")
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    daemon.kill_group()
    nft("flush", "ruleset")
    assert not plan_clean(lab, config_path)
    done = lab.run(lab.router, sys.executable, "-m", "op25b", "restore", "--state-dir", str(tmp_path / "state"))
    assert "restored table inet op25b" in done.stdout
    assert plan_clean(lab, config_path)
    again = lab.run(lab.router, sys.executable, "-m", "op25b", "restore", "--state-dir", str(tmp_path / "state"))
    assert again.returncode == 0 and "already loaded" in again.stdout


def test_restore_without_state_says_so_and_succeeds(lab, tmp_path):
    done = lab.run(lab.router, sys.executable, "-m", "op25b", "restore", "--state-dir", str(tmp_path / "none"))
    assert done.returncode == 0 and "nothing to restore" in done.stdout
    assert lab.run(lab.router, "nft", "list", "ruleset").stdout == ""
