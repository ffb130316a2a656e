"""P1: a full reconcile, config file to kernel (`op25b apply`: parse, compile, render, apply),
against raw `nft -f` of the identical transaction, with the table already loaded (steady state).

Variants: `op25b apply` of the benchmark configuration (exemptions in an exemptions_file), and
of the same policy with the exemptions written as YAML mappings.
"""

from __future__ import annotations

import statistics
import time

from .common import OP25B, namespace, rotations, row, sh, timed
from .shapes import Shape


def stages(shape: Shape, repeats: int = 3) -> dict[str, float]:
    """Where op25b's share of P1 goes, in seconds (medians): interpreter start and imports of the
    CLI, compile (parse, pools, policy, ruleset) and encoding the netlink batch. The rest of
    `op25b apply` is the kernel's commit (a few ms of inventory read besides)."""
    from op25b.apply.nlbatch import messages
    from op25b.reconcile import compile_file
    from op25b.ruleset import Inventory

    out: dict[str, list[float]] = {"startup_s": [], "compile_s": [], "encode_s": []}
    for _ in range(repeats):
        out["startup_s"].append(timed(OP25B, "--version"))
        started = time.perf_counter()
        compiled = compile_file(str(shape.config))
        out["compile_s"].append(time.perf_counter() - started)
        started = time.perf_counter()
        messages(compiled.ruleset, Inventory())
        out["encode_s"].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in out.items()}


def measure(shape: Shape, repeats: int) -> list[dict]:
    script = shape.script
    config = str(shape.config)
    variants = {
        "nft -f": ("nft", "-f", str(script)),
        "op25b apply": (OP25B, "apply", "-c", config),
        "op25b apply, YAML exemptions": (OP25B, "apply", "-c", str(shape.yaml_exemptions_config)),
    }
    samples = {name: [] for name in variants}
    with namespace("p1") as ns:
        sh("nft", "-f", str(script), ns=ns)  # load once: every sample replaces a loaded table
        for _, order in rotations(list(variants), repeats):
            for name in order:
                samples[name].append(timed(*variants[name], ns=ns))
    breakdown = stages(shape, min(repeats, 3))
    return [row("P1", shape.size, samples["op25b apply"], samples["nft -f"], variant="exemptions_file",
                stages=breakdown),
            row("P1", shape.size, samples["op25b apply, YAML exemptions"], samples["nft -f"],
                variant="YAML exemptions")]
