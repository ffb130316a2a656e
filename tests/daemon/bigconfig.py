"""Large pool configurations for the daemon tests: n prefixes per family, never adjacent, so the
kernel holds exactly n intervals per family. IPv4 from the shared address space 100.64.0.0/10
(where ISPs number CGNAT subscribers), IPv6 from the documentation prefix 2001:db8::/32. They only
fill set contents inside test namespaces; no traffic is sent to them."""

from __future__ import annotations

import ipaddress
from pathlib import Path

V4_BASE = int(ipaddress.IPv4Address("100.64.0.0"))
V6_BASE = int(ipaddress.IPv6Address("2001:db8::"))


def write_big_config(directory: Path, count: int, variant: int = 0, extra: str = "") -> Path:
    """Variant 0 and 1 hold disjoint prefixes, so any mix of the two is visible to `plan`."""
    directory.mkdir(parents=True, exist_ok=True)
    v4 = directory / f"v4-{variant}.txt"
    v6 = directory / f"v6-{variant}.txt"
    # Slot i holds 4 IPv4 addresses (2 per variant) and 4 /64s (2 per variant).
    v4.write_text("".join(f"{ipaddress.IPv4Address(V4_BASE + 4 * i + 2 * variant)}/31\n" for i in range(count)))
    v6.write_text("".join(f"{ipaddress.IPv6Address(V6_BASE + ((4 * i + 2 * variant) << 64))}/63\n"
                          for i in range(count)))
    path = directory / f"op25b-{variant}.yaml"
    path.write_text(f"""\
pools:
  - name: big-east
    kind: dynamic
    mode: enforce
    prefixes_file: {v4.name}
  - name: big-west
    kind: dynamic
    mode: monitor
    prefixes_file: {v6.name}
{extra}""")
    return path
