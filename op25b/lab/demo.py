"""`op25b lab`: build the lab, apply the lab policy on the router, connect from every kind of
subscriber to ports 25/587/465 and to the relay, and print what happened plus the kernel counters.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .topology import ADDRESSES, INTERNET_V4, INTERNET_V6, RELAY_V4, RELAY_V6, Lab, lab_config

EXPECTED_BLOCK = {"reject": "refused", "drop": "timeout", "admin-prohibited": "unreachable"}


def run_demo(action: str = "reject", out=sys.stdout) -> int:
    def say(text: str = "") -> None:
        print(text, file=out, flush=True)

    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="op25b-lab-") as tmp, Lab() as lab:
        say(f"lab: namespaces {lab.sub} → {lab.router} → {lab.internet} (documentation prefixes only)")
        config = Path(tmp, "op25b.yaml")
        config.write_text(lab_config(action=action))
        say(f"lab: op25b apply on the router ({config})")
        done = lab.run(lab.router, python, "-m", "op25b", "apply", "-c", str(config), check=False)
        say("  " + (done.stdout or done.stderr).strip())
        if done.returncode != 0:
            return 2
        listener = lab.popen(lab.internet, python, "-m", "op25b.lab.listener", "25", "587", "465",
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            if listener.stdout.readline().strip() != "ready":
                say("lab: the SMTP listener did not start")
                return 2
            failures = _probe_table(lab, python, action, say)
            say("\nkernel counters on the router (op25b stats):")
            stats = lab.run(lab.router, python, "-m", "op25b", "stats", "-c", str(config), check=False)
            say(stats.stdout.rstrip() or stats.stderr.rstrip())
        finally:
            listener.terminate()
            listener.wait(timeout=10)
        say(f"\nlab: {'all outcomes as the policy says' if not failures else f'{failures} unexpected outcome(s)'}; "
            "namespaces removed, host firewall untouched")
        return 0 if not failures else 1


def _probe_table(lab: Lab, python: str, action: str, say) -> int:
    say(f"\n{'subscriber':<10} {'source':<20} {'to':<18} {'port':>4}  {'outcome':<11} {'expected':<11}")
    failures = 0
    blocked = EXPECTED_BLOCK[action]
    cases = []
    for kind, (v4, v6) in ADDRESSES.items():
        for source, internet, relay in ((v4, INTERNET_V4, RELAY_V4), (v6, INTERNET_V6, RELAY_V6)):
            for port in (25, 587, 465):
                expected = blocked if (kind == "dynamic" and port == 25) else "accepted"
                cases.append((kind, source, internet, port, expected))
            if kind == "dynamic":
                cases.append((kind, source, relay, 25, "accepted"))
    for kind, source, dest, port, expected in cases:
        started = time.monotonic()
        outcome = lab.run(lab.sub, python, "-m", "op25b.lab.connect", source, dest, str(port), "1.5",
                          check=False).stdout.strip()
        mark = "" if outcome == expected else "  <-- UNEXPECTED"
        failures += outcome != expected
        say(f"{kind:<10} {source:<20} {dest:<18} {port:>4}  {outcome:<11} {expected:<11}"
            f" {time.monotonic() - started:4.1f}s{mark}")
    return failures
