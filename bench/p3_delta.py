"""P3: one-pool change latency with N+N loaded — the netlink set delta (op25b.apply.setdelta)
against a full in-process apply (`KernelApplier.apply`, no precheck) and against `nft add/delete
element`. The desired ruleset is compiled beforehand: this measures getting it into the kernel.

Each sample changes the kernel and is then reverted (untimed), so every sample starts from A.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import time

from op25b.addresses import merge
from op25b.apply.kernel import KernelApplier
from op25b.apply.setdelta import SetDeltaApplier, plan_delta
from op25b.reconcile import compile_file
from op25b.ruleset import Ruleset

from .common import inside, namespace, rotations, row, sh
from .shapes import TABLE, V4_BASE, V4_SLOT, Shape


def _with_set(ruleset: Ruleset, name: str, elements) -> Ruleset:
    sets = tuple(dataclasses.replace(s, elements=tuple(merge(elements))) if s.name == name else s
                 for s in ruleset.sets)
    return dataclasses.replace(ruleset, sets=sets)


def _interval(text: str) -> tuple[int, int]:
    network = ipaddress.ip_network(text)
    return int(network.network_address), int(network.broadcast_address)


def changes(shape: Shape, a: Ruleset) -> dict[str, tuple[Ruleset, str, str, str]]:
    """name → (B, nft verb, set, element): the three one-pool changes of the issue."""
    pool = f"dynamic_{shape.pool(0)}_v4"
    elements = list(a.set_named(pool).elements)
    added = shape.free_v4(0) + "/32"
    removed = elements[1]  # slot 4's prefix (slot 0 is exempted in part; keep it)
    removed_text = f"{ipaddress.IPv4Address(removed[0])}/{33 - (removed[1] - removed[0] + 1).bit_length()}"
    exemption = f"{ipaddress.IPv4Address(V4_BASE + 5 * V4_SLOT + 1)}/32"
    exempt = list(a.set_named("exempt_v4").elements)
    return {
        "add one prefix": (_with_set(a, pool, elements + [_interval(added)]), "add", pool, added),
        "remove one prefix": (_with_set(a, pool, [e for e in elements if e != removed]), "delete", pool,
                              removed_text),
        "add one exemption": (_with_set(a, "exempt_v4", exempt + [_interval(exemption)]), "add",
                              "exempt_v4", exemption),
    }


def measure(shape: Shape, repeats: int) -> list[dict]:
    a = compile_file(str(shape.config)).ruleset
    cases = changes(shape, a)
    rows = []
    with namespace("p3") as ns:
        sh("nft", "-f", str(shape.script), ns=ns)
        with inside(ns):
            applier, sender = KernelApplier(), SetDeltaApplier()
        try:
            for change, (b, verb, set_name, element) in cases.items():
                samples = {"delta": [], "full": [], "nft": []}
                for _, order in rotations(list(samples), repeats):
                    for how in order:
                        with inside(ns):
                            started = time.perf_counter()
                            if how == "delta":
                                sender.apply(plan_delta(a, b))
                            elif how == "full":
                                applier.apply(b, precheck=False)
                            else:
                                sh("nft", verb, "element", "inet", TABLE, set_name, f"{{ {element} }}")
                            samples[how].append(time.perf_counter() - started)
                            sender.apply(plan_delta(b, a))  # revert, untimed
                rows.append(row("P3", shape.size, samples["delta"], samples["full"],
                                variant=f"{change} vs full apply"))
                rows.append(row("P3", shape.size, samples["delta"], samples["nft"],
                                variant=f"{change} vs nft {verb} element"))
        finally:
            with inside(ns):
                sender.close()
                applier.close()
    return rows
