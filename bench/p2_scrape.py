"""P2: one exporter scrape of the kernel counters with N+N prefixes loaded, against
`nft -j list chain` (what a scrape would run without op25b's netlink reader).

Ours is one full `collect()` of the exporter's KernelCollector (op25b.metrics), which is what a
Prometheus scrape runs; before op25b.metrics existed it was the netlink read `NetlinkReader.counters`.
"""

from __future__ import annotations

import time

from .common import inside, namespace, rotations, row, sh, timed
from .shapes import TABLE, Shape

INNER = 20  # scrapes per sample; the sample is their median (one scrape is far below timer noise)


def _scraper(shape: Shape):
    """(what, scrape): the exporter's collector when op25b.metrics has one, else its netlink read."""
    try:
        from op25b.metrics import KernelCollector, snapshot
    except ImportError:
        from op25b.apply.netlink import NetlinkReader

        reader = NetlinkReader()
        return "NetlinkReader.counters", lambda: reader.counters(TABLE)
    from op25b.reconcile import compile_file

    compiled = compile_file(str(shape.config))
    collector = KernelCollector()
    collector.snapshot = snapshot(compiled.config, compiled.policy)

    def scrape():
        families = list(collector.collect())
        up = next(f for f in families if f.name == "op25b_up")
        if up.samples[0].value != 1:
            raise RuntimeError("the exporter could not read the kernel counters (op25b_up 0)")
        return families

    return "KernelCollector.collect", scrape


def measure(shape: Shape, repeats: int) -> list[dict]:
    ours, baseline = [], []
    with namespace("p2") as ns:
        sh("nft", "-f", str(shape.script), ns=ns)
        with inside(ns):
            what, scrape = _scraper(shape)
            assert scrape(), "the scrape returned no counters"
        for _, order in rotations(["ours", "nft"], repeats):
            for name in order:
                if name == "nft":
                    baseline.append(timed("nft", "-j", "list", "chain", "inet", TABLE, "smtp_v4", ns=ns))
                    continue
                with inside(ns):
                    times = []
                    for _ in range(INNER):
                        started = time.perf_counter()
                        scrape()
                        times.append(time.perf_counter() - started)
                ours.append(sorted(times)[len(times) // 2])
    return [row("P2", shape.size, ours, baseline, variant=what)]
