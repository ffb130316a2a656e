"""P2: one exporter scrape of the kernel counters with N+N prefixes loaded, against
`nft -j list chain` (what a scrape would run without op25b's netlink reader).

Ours is the exporter's collector when op25b.metrics provides one (see `_collector`), otherwise
the netlink counter read it is built on, `NetlinkReader().counters(table)`, on a kept-open socket.
"""

from __future__ import annotations

import time

from .common import inside, namespace, rotations, row, sh, timed
from .shapes import TABLE, Shape

INNER = 20  # scrapes per sample; the sample is their median (one scrape is far below timer noise)


def _scraper():
    try:
        from op25b import metrics
    except ImportError:
        metrics = None
    collector = getattr(metrics, "KernelCollector", None) if metrics else None
    if collector is not None:
        try:
            instance = collector(table=TABLE)
            return "op25b.metrics.KernelCollector.collect", lambda: list(instance.collect())
        except TypeError:
            pass
    from op25b.apply.netlink import NetlinkReader

    reader = NetlinkReader()
    return "NetlinkReader.counters", lambda: reader.counters(TABLE)


def measure(shape: Shape, repeats: int) -> list[dict]:
    ours, baseline = [], []
    with namespace("p2") as ns:
        sh("nft", "-f", str(shape.script), ns=ns)
        with inside(ns):
            what, scrape = _scraper()
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
