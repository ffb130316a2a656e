"""Shared harness plumbing: namespaces it creates and always removes, timing, result rows."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OP25B = str(Path(sys.executable).with_name("op25b"))


def sh(*argv: str, ns: str | None = None, timeout: float = 600, check: bool = True,
       stdin: str | None = None) -> subprocess.CompletedProcess:
    full = ["ip", "netns", "exec", ns, *argv] if ns else list(argv)
    return subprocess.run(full, input=stdin, capture_output=True, text=True, timeout=timeout,  # noqa: S603
                          check=check)


def timed(*argv: str, ns: str | None = None, timeout: float = 600) -> float:
    started = time.perf_counter()
    sh(*argv, ns=ns, timeout=timeout)
    return time.perf_counter() - started


@contextlib.contextmanager
def namespace(tag: str = "b"):
    """A fresh network namespace, removed on exit even when the measurement fails."""
    name = f"o25b-bench-{tag}-{uuid.uuid4().hex[:6]}"
    sh("ip", "netns", "add", name)
    try:
        yield name
    finally:
        sh("ip", "netns", "del", name, check=False)


@contextlib.contextmanager
def inside(ns: str):
    """Run this thread (and the processes it starts) inside `ns`, for in-process measurements."""
    from pyroute2 import netns

    netns.pushns(ns)
    try:
        yield
    finally:
        netns.popns()


def rotations(items: list, repeats: int):
    """Interleave: each repeat runs every variant once, in an order rotated by the repeat number."""
    for r in range(repeats):
        k = r % len(items)
        yield r, items[k:] + items[:k]


def row(metric: str, size: int, ours: list[float], baseline: list[float], unit: str = "s",
        variant: str = "", higher_is_better: bool = False, **extra) -> dict:
    """One result: medians of interleaved samples and their ratio (ours / baseline)."""
    mo, mb = statistics.median(ours), statistics.median(baseline)
    paired = [o / b for o, b in zip(ours, baseline, strict=False) if b]
    out = {"metric": metric, "variant": variant, "size": size, "unit": unit,
           "ours": mo, "baseline": mb, "ratio": mo / mb if mb else None,
           "paired_ratio": statistics.median(paired) if paired else None,
           "higher_is_better": higher_is_better, "repeats": len(ours),
           "samples": {"ours": ours, "baseline": baseline}}
    if unit == "s":
        out["ours_s"], out["baseline_s"] = mo, mb
    out.update(extra)
    return out


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def require_root() -> None:
    if os.geteuid() != 0:
        raise SystemExit("bench: run as root; it creates network namespaces and loads nftables")
