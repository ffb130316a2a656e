"""P5: peak resident memory of op25b with N+N prefixes — `op25b apply` now (and `op25b run` once
the daemon exists) — against `nft -f` of the same transaction. Peak RSS via /usr/bin/time -f %M,
which reports the largest of the process and the children it waited for (op25b's nft included).
"""

from __future__ import annotations

from .common import OP25B, namespace, rotations, row, sh
from .shapes import Shape


def _peak_mb(ns: str, *argv: str) -> float:
    done = sh("/usr/bin/time", "-f", "%M", *argv, ns=ns)
    return int(done.stderr.strip().splitlines()[-1]) / 1024


def measure(shape: Shape, repeats: int) -> list[dict]:
    samples = {"op25b": [], "nft": []}
    with namespace("p5") as ns:
        for _, order in rotations(list(samples), repeats):
            for who in order:
                if who == "op25b":
                    samples[who].append(_peak_mb(ns, OP25B, "apply", "-c", str(shape.config)))
                else:
                    samples[who].append(_peak_mb(ns, "nft", "-f", str(shape.script)))
    return [row("P5", shape.size, samples["op25b"], samples["nft"], unit="MB", variant="op25b apply")]
