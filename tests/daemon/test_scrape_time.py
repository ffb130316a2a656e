"""The exporter's time per scrape with 100k prefixes per family loaded must stay under 10 ms:
kernel counters come from one netlink dump of named counters, never from `nft list`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .bigconfig import write_big_config

pytestmark = pytest.mark.kernel
PREFIXES = 100_000  # per family
OFFENDERS = 10_000
BUDGET_MS = 10.0


def run(netns: str, *argv: str, stdin: str | None = None) -> str:
    done = subprocess.run(["ip", "netns", "exec", netns, *argv], input=stdin, capture_output=True,
                          text=True, timeout=600, check=True)
    return done.stdout


def test_scrape_takes_under_10_ms_with_100k_prefixes_per_family(netns, tmp_path):
    config = write_big_config(tmp_path, PREFIXES)
    run(netns, sys.executable, "-m", "op25b", "apply", "-c", str(config))
    # Offenders too, so their count is read from a well-filled set.
    elements = ", ".join(f"100.64.{i // 256}.{i % 256}" for i in range(OFFENDERS))
    run(netns, "nft", "-f", "-", stdin=f"add element inet op25b offenders_v4 {{ {elements} }}\n")
    timer = Path(__file__).with_name("scrape_timer.py")
    result = json.loads(run(netns, sys.executable, str(timer), str(config), "200"))
    print(f"exporter time per scrape, {PREFIXES} prefixes per family loaded: median {result['median_ms']:.2f} ms, "
          f"p90 {result['p90_ms']:.2f} ms over {result['repeats']} scrapes ({result['series']} series); "
          f"of which the netlink reads: median {result['kernel_read_median_ms']:.2f} ms")
    assert result["up"]
    assert result["median_ms"] < BUDGET_MS
