"""P4: forwarding cost for non-SMTP traffic — iperf3 TCP through the lab router with N+N prefixes
loaded by op25b, against the same router with no ruleset and with the per-prefix iptables ACL an
operator would otherwise write (`-A FORWARD -p tcp --dport 25 -s <prefix> -j REJECT`, IPv4 only,
since the measured traffic is IPv4; the ACL is loaded into the router namespace only).

All traffic stays inside the lab's namespaces and uses documentation addresses
(198.51.100.200 → 192.0.2.1, port 5201).
"""

from __future__ import annotations

import json
import subprocess
import time

from op25b.lab import Lab
from op25b.lab.topology import ADDRESSES, INTERNET_V4

from .common import OP25B, rotations, row, sh
from .shapes import TABLE, Shape

SECONDS = 3
CLIENT = ADDRESSES["nopool"][0]


def _acl(shape: Shape) -> str:
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]"]
    for index in range(4):
        for prefix in (shape.folder / f"pool-{index}.txt").read_text().split():
            if ":" not in prefix:
                lines.append(f"-A FORWARD -s {prefix} -p tcp -m tcp --dport 25 -j REJECT --reject-with tcp-reset")
    return "\n".join(lines + ["COMMIT", ""])


def _throughput(lab: Lab) -> float:
    done = lab.run(lab.sub, "iperf3", "-c", INTERNET_V4, "-B", CLIENT, "-t", str(SECONDS), "-O", "1", "-J",
                   timeout=SECONDS + 60, check=False)
    report = json.loads(done.stdout)
    if "error" in report:
        raise RuntimeError(f"iperf3 failed: {report['error']}")
    return report["end"]["sum_received"]["bits_per_second"] / 1e9


def measure(shape: Shape, repeats: int) -> list[dict]:
    acl = _acl(shape)
    samples = {"none": [], "op25b": [], "acl": []}
    with Lab() as lab:
        server = lab.popen(lab.internet, "iperf3", "-s", "-B", INTERNET_V4,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            for _, order in rotations(list(samples), repeats):
                for state in order:
                    if state == "op25b":
                        sh(OP25B, "apply", "-c", str(shape.config), ns=lab.router)
                    elif state == "acl":
                        sh("iptables-restore", ns=lab.router, stdin=acl)
                    samples[state].append(_throughput(lab))
                    if state == "op25b":
                        sh("nft", "delete", "table", "inet", TABLE, ns=lab.router)
                    elif state == "acl":
                        sh("iptables", "-F", "FORWARD", ns=lab.router)
        finally:
            server.terminate()
            server.wait(timeout=10)
    return [row("P4", shape.size, samples["op25b"], samples["none"], unit="Gbit/s", variant="op25b",
                higher_is_better=True),
            row("P4", shape.size, samples["acl"], samples["none"], unit="Gbit/s",
                variant="iptables per-prefix ACL", higher_is_better=True, acl_rules=acl.count("-A FORWARD"))]
