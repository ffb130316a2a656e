"""Realistic large inputs: many non-adjacent subscriber prefixes per family, a tenth exempted.

IPv4 set contents come from 10.0.0.0/8 (the documentation space holds only 768 addresses); no
packet is ever sent to or from them. IPv6 contents sit inside 2001:db8::/32. Each prefix starts a
slot twice its largest size, so no two prefixes touch and the kernel keeps every one as its own
interval; a free, non-adjacent address in each slot is used to add a prefix (P3).
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass
from pathlib import Path

POOLS = 4
V4_BASE, V4_SLOT = int(ipaddress.IPv4Address("10.0.0.0")), 16  # prefixes of /29../32 use ≤ 8
# The upper half 2001:db8:8000::/33 keeps clear of the relay and the lab (2001:db8:25::/48 ...).
V6_BASE, V6_SLOT_BITS = int(ipaddress.IPv6Address("2001:db8:8000::")), 128 - 54  # /56../64 in a /54
V4_LENGTHS, V6_LENGTHS = (32, 30, 29), (56, 60, 64)
TABLE = "op25b"


@dataclass(frozen=True)
class Shape:
    size: int  # prefixes per family
    folder: Path

    @property
    def config(self) -> Path:
        return self.folder / "op25b.yaml"

    @property
    def yaml_exemptions_config(self) -> Path:
        """The same policy with the exemptions as YAML mappings instead of exemptions_file."""
        return self.folder / "op25b-yaml-exemptions.yaml"

    @property
    def script(self) -> Path:
        """The transaction `op25b apply` sends to an empty kernel: the raw-nft baseline."""
        return self.folder / "transaction.nft"

    def pool(self, index: int) -> str:
        return f"ftth-{index}"

    def free_v4(self, slot: int) -> str:
        """A /32 inside slot `slot` that no prefix covers or touches."""
        return str(ipaddress.IPv4Address(V4_BASE + slot * V4_SLOT + 12))

    def v4_prefix(self, slot: int) -> str:
        return _v4(slot, random.Random(slot).choice(V4_LENGTHS))

    def exemption_v4(self, slot: int) -> str:
        return str(ipaddress.IPv4Address(V4_BASE + slot * V4_SLOT + 1)) + "/32"


def _v4(slot: int, length: int) -> str:
    return f"{ipaddress.IPv4Address(V4_BASE + slot * V4_SLOT)}/{length}"


def _v6(slot: int, length: int) -> str:
    return f"{ipaddress.IPv6Address(V6_BASE + (slot << V6_SLOT_BITS))}/{length}"


def generate(size: int, folder: Path) -> Shape:
    """Write op25b.yaml plus one prefixes file per pool; N prefixes and N/10 exemptions per family,
    in exemptions.txt (exemptions_file), and the same exemptions as YAML mappings in a second
    configuration (P1 measures both)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {i: [] for i in range(POOLS)}
    for slot in range(size):
        choose = random.Random(slot)
        files[slot % POOLS].append(_v4(slot, choose.choice(V4_LENGTHS)))
        files[slot % POOLS].append(_v6(slot, choose.choice(V6_LENGTHS)))
    shape = Shape(size, folder)
    pools = []
    for index, lines in files.items():
        (folder / f"pool-{index}.txt").write_text("\n".join(lines) + "\n")
        pools.append(f"  - name: {shape.pool(index)}\n    kind: dynamic\n    mode: enforce\n"
                     f"    prefixes_file: pool-{index}.txt\n")
    exemptions, lines = [], []
    for slot in range(0, size, 10):  # a tenth of the prefixes, each inside a dynamic prefix
        for prefix in (shape.exemption_v4(slot), _v6(slot, 64)):
            exemptions.append(f'  - {{prefix: "{prefix}", reason: "own MTA, ticket {slot}"}}\n')
            lines.append(f"{prefix} - own MTA, ticket {slot}\n")
    (folder / "exemptions.txt").write_text("".join(lines))
    head = (f"table: {TABLE}\naction: reject\nblocked_ports: [25]\nsubmission_ports: [587, 465]\n"
            'relays: [192.0.2.25, "2001:db8:25::25"]\npools:\n' + "".join(pools))
    shape.config.write_text(head + "exemptions_file: exemptions.txt\n")
    shape.yaml_exemptions_config.write_text(head + "exemptions:\n" + "".join(exemptions))
    from op25b.reconcile import compile_file
    from op25b.render.nftables import transaction
    from op25b.ruleset import Inventory

    shape.script.write_text(transaction(compile_file(str(shape.config)).ruleset, Inventory()))
    return shape
