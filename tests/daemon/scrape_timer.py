"""Run inside a namespace holding a loaded op25b table: time the exporter's work for one scrape.

    python scrape_timer.py CONFIG REPEATS  → prints JSON {"median_ms", "p90_ms", "samples", ...}

Measures generate_latest(registry) in-process: every collector, the kernel reads over netlink
and the text exposition, i.e. the exporter time of a scrape without the HTTP round trip.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

from prometheus_client import generate_latest

from op25b.metrics import DaemonMetrics, snapshot
from op25b.reconcile import compile_file


def main(config: str, repeats: int) -> None:
    compiled = compile_file(config)
    metrics = DaemonMetrics()
    metrics.kernel.snapshot = snapshot(compiled.config, compiled.policy)
    generate_latest(metrics.registry)  # warm-up: opens the netlink socket
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        body = generate_latest(metrics.registry)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    reads = []
    read = metrics.kernel._read
    for _ in range(repeats):
        started = time.perf_counter()
        read(compiled.ruleset.table, metrics.kernel.snapshot.offender_sets)
        reads.append((time.perf_counter() - started) * 1000)
    print(json.dumps({"median_ms": statistics.median(samples), "p90_ms": samples[int(0.9 * len(samples))],
                      "min_ms": samples[0], "kernel_read_median_ms": statistics.median(reads), "max_ms": samples[-1], "repeats": repeats, "bytes": len(body),
                      "up": b"op25b_up 1.0" in body,
                      "series": sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
