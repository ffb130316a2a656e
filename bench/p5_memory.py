"""P5: peak resident memory with N+N prefixes, against `nft -f` of the same transaction.

Ours is the op25b Python process (what the 150 MB target is about): `op25b apply` run in-process
by a wrapper that reports its own RUSAGE_SELF peak, and `op25b run` through its first pass and one
SIGHUP reload (unchanged, or after every pool file changed), read from /proc/<pid>/status VmHWM
before it stops. `op25b apply` also under /usr/bin/time -f %M (the process and any child: since
applies go out as netlink, there is no nft child unless a rule falls back to `nft -f`). The
baseline is `nft -f` of the same transaction.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from .common import OP25B, namespace, rotations, row, sh
from .shapes import TABLE, Shape

_SELF_PEAK = ("import resource, sys\nfrom op25b.cli import main\nrc = main(sys.argv[1:])\n"
              "print('peak-kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
              "sys.exit(rc)\n")


def _time_peak_mb(ns: str, *argv: str) -> float:
    done = sh("/usr/bin/time", "-f", "%M", *argv, ns=ns)
    return int(done.stderr.strip().splitlines()[-1]) / 1024


def _apply_self_mb(ns: str, shape: Shape) -> float:
    done = sh(sys.executable, "-c", _SELF_PEAK, "apply", "-c", str(shape.config), ns=ns)
    line = next(x for x in done.stderr.splitlines() if x.startswith("peak-kb"))
    return int(line.split()[1]) / 1024


def _daemon_self_mb(shape: Shape, ns: str, change_pools: bool = False) -> float:
    """`op25b run`: first pass, one SIGHUP reload (old and new ruleset alive at once), VmHWM.
    change_pools: before the SIGHUP, add one prefix to every pool file, so that the reload
    re-parses all of them and the daemon commits a change (the worst case for memory)."""
    sh("nft", "delete", "table", "inet", TABLE, ns=ns, check=False)  # "table loaded" = first pass done
    argv = ["ip", "netns", "exec", ns, OP25B, "run", "-c", str(shape.config),
            "--state-dir", str(shape.folder / "state-p5")]
    daemon = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    try:
        deadline = time.monotonic() + 300
        while TABLE not in sh("nft", "list", "tables", ns=ns).stdout:
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise RuntimeError("op25b run did not load its table")
            time.sleep(0.2)
        time.sleep(1)
        originals = {path: path.read_text() for path in sorted(shape.folder.glob("pool-*.txt"))}
        if change_pools:
            for index, path in enumerate(originals):
                path.write_text(originals[path] + f"{shape.free_v4(index)}/32\n")
        daemon.send_signal(signal.SIGHUP)
        time.sleep(3 + shape.size / 10_000)
        status = open(f"/proc/{daemon.pid}/status").read()
        peak_kb = int(next(x for x in status.splitlines() if x.startswith("VmHWM:")).split()[1])
    finally:
        for path, text in originals.items() if "originals" in locals() else ():
            path.write_text(text)
        daemon.terminate()
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
    return peak_kb / 1024


def _has_daemon() -> bool:
    return sh(OP25B, "run", "--help", check=False).returncode == 0


def measure(shape: Shape, repeats: int) -> list[dict]:
    variants = ["nft", "apply", "apply+nft"] + (["daemon", "daemon, pools changed"] if _has_daemon() else [])
    samples = {name: [] for name in variants}
    with namespace("p5") as ns:
        for _, order in rotations(variants, repeats):
            for who in order:
                if who == "nft":
                    samples[who].append(_time_peak_mb(ns, "nft", "-f", str(shape.script)))
                elif who == "apply":
                    samples[who].append(_apply_self_mb(ns, shape))
                elif who == "apply+nft":
                    samples[who].append(_time_peak_mb(ns, OP25B, "apply", "-c", str(shape.config)))
                else:
                    samples[who].append(_daemon_self_mb(shape, ns, change_pools=who != "daemon"))
    rows = [row("P5", shape.size, samples["apply"], samples["nft"], unit="MB",
                variant="op25b apply (python process)"),
            row("P5", shape.size, samples["apply+nft"], samples["nft"], unit="MB",
                variant="op25b apply, /usr/bin/time (with any child)")]
    if samples.get("daemon"):
        rows.append(row("P5", shape.size, samples["daemon"], samples["nft"], unit="MB",
                        variant="op25b run (python process)"))
        rows.append(row("P5", shape.size, samples["daemon, pools changed"], samples["nft"], unit="MB",
                        variant="op25b run, reload changing every pool file"))
    return rows
