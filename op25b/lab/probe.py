"""Run inside the lab's subscriber namespace: send one TCP SYN per probe with scapy.

    python -m op25b.lab.probe IFACE ROUTER_MAC < probes.json     # [[source, destination, port], ...]

Sources are spoofed on purpose (thousands of addresses across every pool), so frames go out at
layer 2 straight to the router's MAC; no address needs to be configured on the interface.
"""

from __future__ import annotations

import json
import sys


def frames(probes, router_mac: str):
    from scapy.layers.inet import IP, TCP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether

    for index, (source, destination, port) in enumerate(probes):
        layer3 = IPv6(src=source, dst=destination) if ":" in source else IP(src=source, dst=destination)
        # A distinct source port per probe keeps each SYN its own flow for conntrack.
        yield Ether(dst=router_mac) / layer3 / TCP(sport=20000 + index % 40000, dport=int(port), flags="S")


def main() -> None:
    from scapy.sendrecv import sendp

    iface, router_mac = sys.argv[1], sys.argv[2]
    probes = json.load(sys.stdin)
    sendp(list(frames(probes, router_mac)), iface=iface, verbose=False)
    print(f"sent {len(probes)}", flush=True)


if __name__ == "__main__":
    main()
