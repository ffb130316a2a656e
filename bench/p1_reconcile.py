"""P1: a full reconcile, config file to kernel (`op25b apply`: parse, compile, render, apply),
against raw `nft -f` of the identical transaction, with the table already loaded (steady state).

Variants: `op25b apply` (with its `nft -c` precheck, the default) and `op25b apply --no-precheck`.
"""

from __future__ import annotations

from .common import OP25B, namespace, rotations, row, sh, timed
from .shapes import Shape


def measure(shape: Shape, repeats: int) -> list[dict]:
    script = shape.script
    config = str(shape.config)
    variants = {
        "nft -f": ("nft", "-f", str(script)),
        "op25b apply": (OP25B, "apply", "-c", config),
        "op25b apply --no-precheck": (OP25B, "apply", "--no-precheck", "-c", config),
    }
    samples = {name: [] for name in variants}
    with namespace("p1") as ns:
        sh("nft", "-f", str(script), ns=ns)  # load once: every sample replaces a loaded table
        for _, order in rotations(list(variants), repeats):
            for name in order:
                samples[name].append(timed(*variants[name], ns=ns))
    return [row("P1", shape.size, samples["op25b apply"], samples["nft -f"], variant="precheck"),
            row("P1", shape.size, samples["op25b apply --no-precheck"], samples["nft -f"],
                variant="no-precheck")]
