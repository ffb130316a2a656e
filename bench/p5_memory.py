"""P5: peak resident memory of op25b with N+N prefixes — `op25b apply`, and `op25b run` through
its first pass and one SIGHUP reload — against `nft -f` of the same transaction. Peak RSS via /usr/bin/time -f %M,
which reports the largest of the process and the children it waited for (op25b's nft included).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from .common import OP25B, namespace, rotations, row, sh
from .shapes import TABLE, Shape


def _peak_mb(ns: str, *argv: str) -> float:
    done = sh("/usr/bin/time", "-f", "%M", *argv, ns=ns)
    return int(done.stderr.strip().splitlines()[-1]) / 1024


def measure(shape: Shape, repeats: int) -> list[dict]:
    samples = {"op25b": [], "nft": [], "daemon": []}
    with namespace("p5") as ns:
        for _, order in rotations(list(samples), repeats):
            for who in order:
                if who == "daemon":
                    if _has_daemon():
                        samples[who].append(_daemon_peak_mb(shape, ns))
                elif who == "op25b":
                    samples[who].append(_peak_mb(ns, OP25B, "apply", "-c", str(shape.config)))
                else:
                    samples[who].append(_peak_mb(ns, "nft", "-f", str(shape.script)))
    rows = [row("P5", shape.size, samples["op25b"], samples["nft"], unit="MB", variant="op25b apply")]
    if samples["daemon"]:
        rows.append(row("P5", shape.size, samples["daemon"], samples["nft"], unit="MB", variant="op25b run"))
    return rows


def _has_daemon() -> bool:
    return sh(OP25B, "run", "--help", check=False).returncode == 0


def _daemon_peak_mb(shape: Shape, ns: str) -> float:
    """`op25b run` under /usr/bin/time: first pass, one SIGHUP reload, then SIGTERM; peak RSS."""
    argv = ["ip", "netns", "exec", ns, "/usr/bin/time", "-f", "%M", OP25B, "run", "-c", str(shape.config),
            "--state-dir", str(shape.folder / "state-p5")]
    sh("nft", "delete", "table", "inet", TABLE, ns=ns, check=False)  # "table loaded" = first pass done
    timer = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # noqa: S603
    try:
        deadline = time.monotonic() + 300
        while sh("nft", "list", "tables", ns=ns).stdout.count(TABLE) == 0:
            if time.monotonic() > deadline or timer.poll() is not None:
                raise RuntimeError("op25b run did not load its table")
            time.sleep(0.2)
        children = Path(f"/proc/{timer.pid}/task/{timer.pid}/children").read_text().split()
        daemon = int(children[0])
        time.sleep(1)
        os.kill(daemon, signal.SIGHUP)  # a reload holds the old and the new ruleset at once
        time.sleep(2 + shape.size / 10_000)
        os.kill(daemon, signal.SIGTERM)
        _, stderr = timer.communicate(timeout=60)
    finally:
        if timer.poll() is None:
            timer.kill()
    sh("nft", "delete", "table", "inet", TABLE, ns=ns, check=False)
    return int(stderr.strip().splitlines()[-1]) / 1024
