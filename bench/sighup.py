"""SIGHUP → new rules in the kernel: the daemon's reload latency for a one-prefix change, against
a full `op25b apply` of the same change.

Needs `op25b run` (the daemon, being written); until it exists this reports nothing and says so.
The kernel's generation id (one netlink read) tells when the daemon's transaction committed.
"""

from __future__ import annotations

import signal
import subprocess
import time

from .common import OP25B, inside, log, namespace, rotations, row, sh, timed
from .shapes import Shape

TIMEOUT = 120.0


def available() -> bool:
    return sh(OP25B, "run", "--help", check=False).returncode == 0


def _wait_generation(reader, after: int, deadline: float) -> None:
    while reader.generation() == after:
        if time.monotonic() > deadline:
            raise TimeoutError("the daemon did not commit a new ruleset after SIGHUP")
        time.sleep(0.001)


def measure(shape: Shape, repeats: int) -> list[dict]:
    if not available():
        log("  skipped: `op25b run` does not exist yet")
        return []
    from op25b.apply.netlink import NetlinkReader

    pool_file = shape.folder / "pool-0.txt"
    original = pool_file.read_text()
    changed = original + shape.free_v4(0) + "/32\n"
    ours, baseline = [], []
    with namespace("hup") as ns:
        sh(OP25B, "apply", "-c", str(shape.config), ns=ns)
        argv = ["ip", "netns", "exec", ns, OP25B, "run", "-c", str(shape.config),
                "--state-dir", str(shape.folder / "state")]
        daemon = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        try:
            time.sleep(3 + shape.size / 20_000)  # the daemon's first pass (a no-op here)
            with inside(ns):
                reader = NetlinkReader()
            flips = 0
            for _, order in rotations(["daemon", "apply"], repeats):
                for how in order:
                    flips += 1  # every sample is a real one-prefix change: add, then remove, ...
                    pool_file.write_text(changed if flips % 2 else original)
                    if how == "apply":
                        baseline.append(timed(OP25B, "apply", "-c", str(shape.config), ns=ns))
                        continue
                    with inside(ns):
                        before = reader.generation()
                        started = time.monotonic()
                        daemon.send_signal(signal.SIGHUP)
                        _wait_generation(reader, before, started + TIMEOUT)
                        ours.append(time.monotonic() - started)
            with inside(ns):
                reader.close()
        finally:
            pool_file.write_text(original)
            daemon.terminate()
            daemon.wait(timeout=30)
    return [row("SIGHUP", shape.size, ours, baseline, variant="daemon reload vs op25b apply")]
