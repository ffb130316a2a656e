"""The daemon's pure parts, without root: the loop against FakeApplier, state files, the collector."""

from __future__ import annotations

import dataclasses
import datetime as dt
import stat
import threading

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from op25b import state
from op25b.apply.fake import FakeApplier
from op25b.daemon import Daemon, JournalFormatter
from op25b.errors import KernelError, StateError
from op25b.lab.topology import lab_config
from op25b.metrics import DaemonMetrics, KernelCollector, snapshot
from op25b.reconcile import compile_file

CONTRACT = {
    "op25b_blocked_packets_total": {"pool", "family"}, "op25b_blocked_bytes_total": {"pool", "family"},
    "op25b_would_block_packets_total": {"pool", "family"}, "op25b_would_block_bytes_total": {"pool", "family"},
    "op25b_submission_packets_total": {"port", "family"}, "op25b_relay_packets_total": {"family"},
    "op25b_exempt_packets_total": {"family"}, "op25b_prefixes": {"pool", "family", "kind"},
    "op25b_reconcile_total": {"result"}, "op25b_reconcile_duration_seconds_bucket": {"le"},
    "op25b_reconcile_duration_seconds_count": set(), "op25b_reconcile_duration_seconds_sum": set(),
    "op25b_last_apply_success_timestamp_seconds": set(), "op25b_drift_repairs_total": set(),
    "op25b_config_reload_errors_total": set(), "op25b_config_info": {"sha256"}, "op25b_offenders": {"family"},
    "op25b_up": set(),
}


def samples(registry) -> dict[tuple[str, tuple], float]:
    text = generate_latest(registry).decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "op25b.yaml"
    path.write_text(lab_config(extra=f"reconcile_interval: 5\nstate_dir: {tmp_path / 'state'}\n"))
    return path


@pytest.fixture
def kernel_counters():
    """Per-counter overrides of what the fake kernel read returns; the rest read 7 packets, 700 bytes."""
    return {}


@pytest.fixture
def daemon(config_file, kernel_counters):
    fake = FakeApplier()

    def read(table, offender_sets):
        ruleset = fake.tables.get(table)
        counters = {name: kernel_counters.get(name, (7, 700)) for name in ruleset.counters} if ruleset else {}
        return counters, {family: 3 for family in offender_sets}

    metrics = DaemonMetrics(CollectorRegistry(), KernelCollector(read))
    created = Daemon(str(config_file), fake, metrics, serve_metrics=False)
    assert created.load()
    return created


def drift(fake: FakeApplier, table: str = "op25b") -> None:
    """Something other than op25b edits our table: the kernel's generation moves on."""
    ruleset = fake.tables[table]
    chains = tuple(dataclasses.replace(c, rules=c.rules + ("accept",)) if c.name == "smtp_v4" else c
                   for c in ruleset.chains)
    fake.tables[table] = dataclasses.replace(ruleset, chains=chains)
    fake._generation += 1


# --- the loop -------------------------------------------------------------------------------


def test_first_pass_applies_then_quiet_passes_do_not_touch_the_kernel(daemon):
    assert daemon.reconcile() == "applied"
    scripts = len(daemon.applier.scripts)
    assert [daemon.reconcile() for _ in range(3)] == ["unchanged"] * 3
    assert len(daemon.applier.scripts) == scripts
    values = samples(daemon.metrics.registry)
    assert values[("op25b_reconcile_total", (("result", "applied"),))] == 1
    assert values[("op25b_reconcile_total", (("result", "unchanged"),))] == 3
    assert values[("op25b_reconcile_duration_seconds_count", ())] == 4
    assert values[("op25b_last_apply_success_timestamp_seconds", ())] > 0


def test_drift_is_repaired_and_counted_but_config_changes_are_not_drift(daemon, config_file):
    daemon.reconcile()
    drift(daemon.applier)
    assert daemon.reconcile() == "applied"
    assert daemon.applier.tables["op25b"] == daemon.compiled.ruleset
    assert daemon.metrics.drift_repairs._value.get() == 1
    config_file.write_text(config_file.read_text().replace("mode: monitor", "mode: enforce"))
    assert daemon.load()
    assert daemon.reconcile() == "applied"
    assert daemon.metrics.drift_repairs._value.get() == 1


def test_a_broken_reload_is_refused_and_counted_and_the_kernel_is_untouched(daemon, config_file):
    daemon.reconcile()
    before, scripts = daemon.compiled, len(daemon.applier.scripts)
    config_file.write_text("pools: [{name: UPPER, kind: dynamic}]\n")
    assert not daemon.load()
    assert daemon.compiled is before
    assert daemon.metrics.reload_errors._value.get() == 1
    assert daemon.reconcile() == "unchanged"
    assert len(daemon.applier.scripts) == scripts


def test_kernel_errors_back_off_up_to_the_interval_and_the_kernel_keeps_its_rules(daemon):
    daemon.reconcile()
    drift(daemon.applier)
    waits = []
    for _ in range(5):
        daemon.applier.fail_next = "the kernel said no"
        assert daemon.reconcile() == "error"
        waits.append(daemon.wait_after("error"))
    assert waits == [1, 2, 4, 5, 5]  # reconcile_interval is 5 s
    assert daemon.reconcile() == "applied" and daemon.errors_in_row == 0
    assert daemon.wait_after("applied") == 5


def test_state_is_written_after_apply_and_at_first_adoption(daemon, tmp_path):
    daemon.reconcile()
    saved = state.load(tmp_path / "state")
    assert saved.table == "op25b" and saved.config_sha256 == daemon.compiled.config.sha256
    (tmp_path / "state" / "ruleset.nft").unlink()
    restarted = Daemon(daemon.config_path, daemon.applier, DaemonMetrics(CollectorRegistry()), serve_metrics=False)
    assert restarted.load()
    assert restarted.reconcile() == "unchanged"  # adopted, nothing applied…
    assert state.load(tmp_path / "state") is not None  # …but the state is written all the same


def test_exemptions_expire_at_midnight_without_a_reload(tmp_path):
    path = tmp_path / "op25b.yaml"
    path.write_text(lab_config(extra=f"state_dir: {tmp_path}\n").replace(
        'reason: "runs own MTA, ticket 4711"', 'reason: "until tonight"\n    expires: 2030-01-01'))
    today = [dt.date(2030, 1, 1)]
    created = Daemon(str(path), FakeApplier(), DaemonMetrics(CollectorRegistry()), serve_metrics=False,
                     today=lambda: today[0])
    assert created.load()
    created.reconcile()
    exempt = created.applier.tables["op25b"].set_named("exempt_v4").elements
    today[0] = dt.date(2030, 1, 2)
    assert created.reconcile() == "applied"
    assert created.applier.tables["op25b"].set_named("exempt_v4").elements != exempt
    assert created.metrics.drift_repairs._value.get() == 0
    # The new day's policy holds every pool, and shares the configuration's interval tuples
    # instead of a second copy of each pool.
    assert created.applier.tables["op25b"].set_named("dynamic_ftth-east_v4").elements
    pools = {pool.name: pool for pool in created.compiled.config.pools}
    assert all(dynamic.sets is pools[dynamic.name].intervals for dynamic in created.compiled.policy.dynamic)


def test_run_loop_reloads_and_stops_and_on_stop_remove_deletes_the_table(config_file):
    config_file.write_text(config_file.read_text() + "on_stop: remove\n")
    fake = FakeApplier()
    created = Daemon(str(config_file), fake, DaemonMetrics(CollectorRegistry()), serve_metrics=False)
    threading.Timer(0.3, created.request_reload).start()
    threading.Timer(0.6, created.request_stop).start()
    import signal

    saved = {number: signal.getsignal(number) for number in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT)}
    try:
        assert created.run() == 0
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)
    assert "op25b" not in fake.tables  # on_stop: remove
    assert created.metrics.reconcile.labels("applied")._value.get() == 1


def test_log_lines_are_single_lines_with_a_journald_priority():
    import logging

    record = logging.LogRecord("op25b", logging.ERROR, __file__, 1, "failed: %s", (KernelError("a\n  b"),), None)
    assert JournalFormatter(journal=True).format(record) == "<3>failed: a b"
    assert "\n" not in JournalFormatter(journal=False).format(record)


# --- metrics --------------------------------------------------------------------------------


def test_exported_names_and_labels_are_exactly_the_contract(daemon):
    daemon.reconcile()
    values = samples(daemon.metrics.registry)
    exported: dict[str, set] = {}
    for name, labels in values:
        if not name.endswith("_created"):  # `op25b run` turns these off (disable_created_metrics)
            exported.setdefault(name, set()).update(key for key, _ in labels)
    assert exported == CONTRACT
    assert values[("op25b_up", ())] == 1
    assert values[("op25b_blocked_packets_total", (("family", "ipv6"), ("pool", "ftth-east")))] == 7
    assert values[("op25b_blocked_bytes_total", (("family", "ipv4"), ("pool", "ftth-east")))] == 700
    assert values[("op25b_would_block_packets_total", (("family", "ipv4"), ("pool", "cable-west")))] == 7
    assert values[("op25b_submission_packets_total", (("family", "ipv4"), ("port", "587")))] == 7
    assert values[("op25b_offenders", (("family", "ipv6"),))] == 3
    assert values[("op25b_prefixes", (("family", "ipv4"), ("kind", "static"), ("pool", "biz-fixed")))] == 1
    assert values[("op25b_prefixes", (("family", "ipv4"), ("kind", "exemption"), ("pool", "")))] == 1
    assert ("op25b_config_info", (("sha256", daemon.compiled.config.sha256),)) in values
    families = {value for _, labels in values for key, value in labels if key == "family"}
    assert families == {"ipv4", "ipv6"}
    text = generate_latest(daemon.metrics.registry).decode()
    assert "198.51.100" not in text and "2001:db8" not in text


def test_a_failed_kernel_read_yields_no_kernel_samples_and_up_0(config_file):
    def broken(table, sets):
        raise OSError("netlink is gone")

    registry = CollectorRegistry()
    collector = KernelCollector(broken, registry=registry)
    compiled = compile_file(str(config_file))
    collector.snapshot = snapshot(compiled.config, compiled.policy)
    values = samples(registry)
    assert values[("op25b_up", ())] == 0
    assert not [name for name, _ in values if "packets" in name or name == "op25b_offenders"]
    assert ("op25b_config_info", (("sha256", compiled.config.sha256),)) in values  # policy facts stay


def test_a_missing_table_means_up_0(config_file):
    registry = CollectorRegistry()
    collector = KernelCollector(lambda table, sets: ({}, {}), registry=registry)
    compiled = compile_file(str(config_file))
    collector.snapshot = snapshot(compiled.config, compiled.policy)
    assert samples(registry)[("op25b_up", ())] == 0


# --- state ----------------------------------------------------------------------------------


def test_state_round_trip_is_atomic_and_private(tmp_path, config_file):
    compiled = compile_file(str(config_file))
    path = state.save(tmp_path / "lkg", compiled.ruleset, "abc")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["ruleset.nft"]  # no temporary file left
    saved = state.load(tmp_path / "lkg")
    assert saved.table == "op25b" and saved.config_sha256 == "abc"
    assert saved.script.startswith("add table inet op25b\n")
    assert "dynamic_ftth-east_v4" in saved.script


def test_state_missing_is_none_and_corrupt_is_refused(tmp_path, config_file):
    assert state.load(tmp_path / "nothing") is None
    compiled = compile_file(str(config_file))
    path = state.save(tmp_path, compiled.ruleset)
    path.write_text(path.read_text()[:-40])  # torn write
    with pytest.raises(StateError, match="checksum"):
        state.load(tmp_path)
    path.write_text("add table inet op25b\n")
    with pytest.raises(StateError, match="header"):
        state.load(tmp_path)


def test_an_unexpected_failure_is_a_counted_error_not_a_crash(daemon):
    def broken() -> int:
        raise RuntimeError("netlink socket closed")

    daemon.applier.generation = broken
    assert daemon.reconcile() == "error"
    assert daemon.metrics.reconcile.labels("error")._value.get() == 1


def test_restore_without_state_exits_0_with_a_message(tmp_path, capsys):
    from op25b.cli import main

    assert main(["restore", "--state-dir", str(tmp_path / "empty")]) == 0
    assert "nothing to restore" in capsys.readouterr().out


def test_restore_refuses_a_corrupt_state_with_exit_2(tmp_path, capsys, config_file):
    from op25b.cli import main

    path = state.save(tmp_path, compile_file(str(config_file)).ruleset)
    path.write_text(path.read_text().replace("add rule", "add rul", 1))
    assert main(["restore", "--state-dir", str(tmp_path)]) == 2
    assert "checksum" in capsys.readouterr().err
