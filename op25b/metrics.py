"""Observe: the daemon's own Counters/Histogram and a Collector that reads the kernel at scrape time.

The metric names are a contract (docs/metrics.md, rules/prometheus, the Grafana dashboard).
Like prometheus_client's ProcessCollector, KernelCollector yields fresh families on each scrape
from numbers that live elsewhere (nftables named counters, read over netlink in well under a
millisecond); a failed read yields no kernel samples and op25b_up 0, never a failed scrape.
No label carries an address, a subscriber or a rule handle.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from .addresses import FAMILIES
from .config import Config
from .policy import Policy
from .render import names

log = logging.getLogger("op25b.metrics")

RESULTS = ("applied", "unchanged", "error")
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)
# metric family → (help, label names); the kernel counters each feed one packets (and bytes) family.
_TRAFFIC = {
    "blocked": ("Packets to a blocked port from an enforce-mode dynamic pool, rejected or dropped",
                ("pool", "family")),
    "would_block": ("Packets to a blocked port from a monitor-mode dynamic pool, counted and passed",
                    ("pool", "family")),
    "submission": ("Packets to a submission port, never blocked", ("port", "family")),
    "relay": ("Packets to port 25 of the ISP's relays, always allowed", ("family",)),
    "exempt": ("Packets to port 25 from static pools and active exemptions, allowed", ("family",)),
}
_WITH_BYTES = ("blocked", "would_block")


@dataclass(frozen=True)
class Snapshot:
    """What the daemon last applied (or verified): all the collector needs to label kernel counters."""

    table: str
    counters: dict[str, tuple[str, tuple[str, ...]]]  # counter name → (traffic kind, label values)
    offender_sets: dict[str, str]  # family → set name; empty when offenders are disabled
    prefixes: tuple[tuple[str, str, str, int], ...]  # (pool, family, kind, count)
    config_sha256: str = ""
    taken: float = field(default_factory=time.time)


def snapshot(config: Config, policy: Policy, today: dt.date | None = None) -> Snapshot:
    counters: dict[str, tuple[str, tuple[str, ...]]] = {}
    for family in FAMILIES:
        counters[names.relay_counter(family)] = ("relay", (family,))
        counters[names.exempt_counter(family)] = ("exempt", (family,))
        for pool in policy.kernel_pools:
            if pool.mode == "enforce":
                counters[names.blocked_counter(pool.name, family)] = ("blocked", (pool.name, family))
            else:
                counters[names.would_block_counter(pool.name, family)] = ("would_block", (pool.name, family))
        for port in policy.submission_ports:
            counters[names.submission_counter(port, family)] = ("submission", (str(port), family))
    offenders = {family: names.offenders_set(family) for family in FAMILIES} if policy.offenders_size else {}
    rows = []
    for pool in config.pools:
        for family in FAMILIES:
            rows.append((pool.name, family, pool.kind, pool.counts[0 if family == "ipv4" else 1]))
    today = today or dt.date.today()
    active = [e.prefix for e in config.exemptions if e.active(today)]
    for family in FAMILIES:
        # Exemptions belong to no pool: an empty label, which Prometheus treats as absent.
        rows.append(("", family, "exemption", sum(1 for p in active if p.family == family)))
    return Snapshot(policy.table, counters, offenders, tuple(rows), config.sha256)


class KernelReader:
    """The reads one scrape needs, on one raw netlink socket (op25b.apply.nfquery), reopened after errors."""

    def __init__(self) -> None:
        self._socket = None
        self._lock = threading.Lock()  # the HTTP server may run two scrapes at once

    def read(self, table: str, offender_sets: dict[str, str]) -> tuple[dict, dict]:
        from .apply.nfquery import QuerySocket

        with self._lock:
            try:
                if self._socket is None:
                    self._socket = QuerySocket()
                counters = self._socket.counters(table)
                if not counters:  # the table is gone: no sets to count either
                    return {}, {}
                offenders = {family: self._socket.set_count(table, name) for family, name in offender_sets.items()}
                return counters, offenders
            except BaseException:
                if self._socket is not None:
                    self._socket.close()
                    self._socket = None
                raise


class KernelCollector(Collector):
    """Kernel counters, prefix counts and config info, read fresh at each scrape."""

    def __init__(self, read: Callable[[str, dict[str, str]], tuple[dict, dict]] | None = None,
                 registry: CollectorRegistry | None = None) -> None:
        self._read = read or KernelReader().read
        self.snapshot: Snapshot | None = None  # set by the daemon after each successful pass
        self._failing = False
        if registry is not None:
            registry.register(self)

    def describe(self) -> Iterator:
        # Names only: registering must not read the kernel.
        yield GaugeMetricFamily("op25b_up", "1 when the last read of op25b's kernel counters succeeded")

    def collect(self) -> Iterator:
        up = GaugeMetricFamily("op25b_up", "1 when the last read of op25b's kernel counters succeeded")
        current = self.snapshot
        if current is None:
            up.add_metric([], 0)
            yield up
            return
        yield from self._policy_families(current)
        try:
            counters, offenders = self._read(current.table, current.offender_sets)
        except Exception as exc:  # any failure: no kernel samples, op25b_up 0; the scrape goes on
            self._log_once(f"cannot read the kernel counters of table inet {current.table}: {exc}")
            up.add_metric([], 0)
            yield up
            return
        if not counters:  # every op25b table has counters: none means the table is gone
            self._log_once(f"table inet {current.table} is not in the kernel")
            up.add_metric([], 0)
            yield up
            return
        self._failing = False
        up.add_metric([], 1)
        yield up
        yield from self._traffic_families(current, counters)
        gauge = GaugeMetricFamily("op25b_offenders", "Sources in the kernel's top-offender set (count only)",
                                  labels=["family"])
        for family, count in offenders.items():
            if count is not None:
                gauge.add_metric([family], count)
        yield gauge

    def _log_once(self, message: str) -> None:
        if not self._failing:  # one log line when reads start failing, not one per scrape
            log.warning(message)
        self._failing = True

    @staticmethod
    def _policy_families(current: Snapshot) -> Iterator:
        prefixes = GaugeMetricFamily("op25b_prefixes", "Prefixes in the applied policy",
                                     labels=["pool", "family", "kind"])
        for pool, family, kind, count in current.prefixes:
            prefixes.add_metric([pool, family, kind], count)
        yield prefixes
        info = GaugeMetricFamily("op25b_config_info", "The configuration in effect (always 1)", labels=["sha256"])
        info.add_metric([current.config_sha256], 1)
        yield info

    @staticmethod
    def _traffic_families(current: Snapshot, counters: dict) -> Iterator:
        packets = {kind: CounterMetricFamily(f"op25b_{kind}_packets", text, labels=list(labels))
                   for kind, (text, labels) in _TRAFFIC.items()}
        octets = {kind: CounterMetricFamily(f"op25b_{kind}_bytes", _TRAFFIC[kind][0].replace("Packets", "Bytes"),
                                            labels=list(_TRAFFIC[kind][1])) for kind in _WITH_BYTES}
        for name, (kind, labels) in current.counters.items():
            value = counters.get(name)
            if value is None:
                continue  # not (yet) in the kernel: a gap, not a false zero
            packets[kind].add_metric(list(labels), value[0])
            if kind in octets:
                octets[kind].add_metric(list(labels), value[1])
        yield from packets.values()
        yield from octets.values()


class DaemonMetrics:
    """Everything the daemon exports, on one injected registry."""

    def __init__(self, registry: CollectorRegistry | None = None, collector: KernelCollector | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.reconcile = Counter("op25b_reconcile_total", "Reconcile passes by result", ["result"], registry=r)
        for result in RESULTS:
            self.reconcile.labels(result)  # every series exists from the start, at 0
        self.duration = Histogram("op25b_reconcile_duration_seconds", "Duration of one reconcile pass",
                                  buckets=DURATION_BUCKETS, registry=r)
        self.last_success = Gauge("op25b_last_apply_success_timestamp_seconds",
                                  "Unix time of the last pass that left the kernel matching the policy", registry=r)
        self.drift_repairs = Counter("op25b_drift_repairs_total",
                                     "Passes that found op25b's table changed by something else and repaired it",
                                     registry=r)
        self.reload_errors = Counter("op25b_config_reload_errors_total",
                                     "Reloads refused because the configuration was invalid", registry=r)
        self.kernel = collector or KernelCollector()
        r.register(self.kernel)

    def observe_pass(self, result: str, seconds: float) -> None:
        self.reconcile.labels(result).inc()
        self.duration.observe(seconds)
        if result != "error":
            self.last_success.set(time.time())
