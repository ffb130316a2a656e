"""kill -9 in the middle of a large apply: the kernel holds the old ruleset or the new one, never
a mix and never none; a restarted daemon then converges on the new one."""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from pathlib import Path

import pytest

from .bigconfig import write_big_config
from .conftest import METRICS_PORT, Daemon, wait_for

pytestmark = pytest.mark.kernel
PREFIXES = 50_000  # per family


def children(pid: int) -> list[tuple[int, list[str]]]:
    """(pid, argv) of the direct children of `pid`."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append((int(entry.name), [a.decode() for a in argv if a]))
    return out


def committing_nft(pid: int) -> int | None:
    """The daemon's `nft -f -` child that commits (not the `nft -c` dry run), if one runs now."""
    for child, argv in children(pid):
        if argv and os.path.basename(argv[0]) == "nft" and "-f" in argv and "-c" not in argv:
            return child
    return None


def matches(netns: str, config: Path) -> bool:
    import subprocess

    done = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-m", "op25b", "plan", "-c", str(config)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode == 0


@pytest.mark.parametrize("victims", ["daemon and nft", "daemon only"])
def test_kill9_during_a_large_apply_leaves_old_or_new(netns, tmp_path, victims):
    extra = f"reconcile_interval: 2\nstate_dir: {tmp_path / 'state'}\nmetrics:\n  listen: 127.0.0.1:{METRICS_PORT}\n"
    old = write_big_config(tmp_path, PREFIXES, 0, extra)
    new = write_big_config(tmp_path, PREFIXES, 1, extra)
    config = tmp_path / "op25b.yaml"
    config.write_text(old.read_text())
    daemon = Daemon(netns, config, tmp_path / "daemon.log")
    try:
        daemon.start(wait=False)
        wait_for(lambda: daemon.value("op25b_reconcile_total", result="applied") == 1, 240, "the first apply")
        config.write_text(new.read_text())
        daemon.signal(signal.SIGHUP)
        nft = wait_for(lambda: committing_nft(daemon.pid), 120, "the commit of the new ruleset", step=0.005)
        time.sleep(random.uniform(0, 0.5))  # somewhere inside the commit (or just after it)
        caught = committing_nft(daemon.pid) is not None
        if victims == "daemon and nft":
            os.killpg(daemon.pid, signal.SIGKILL)
        else:
            os.kill(daemon.pid, signal.SIGKILL)
            wait_for(lambda: not Path(f"/proc/{nft}").exists(), 120, "the orphaned nft to finish")
        daemon.process.wait(timeout=10)
        print(f"killed {victims}; nft still committing at the kill: {caught}")
    finally:
        daemon.kill_group()

    holds_old, holds_new = matches(netns, old), matches(netns, new)
    assert holds_old != holds_new, f"the kernel holds {'both' if holds_old else 'neither'} of old and new"
    print(f"after the kill the kernel holds the {'old' if holds_old else 'new'} ruleset")

    again = Daemon(netns, config, tmp_path / "daemon2.log")
    try:
        again.start(wait=False)
        wait_for(lambda: again.passes() >= 1, 240, "the restarted daemon's first pass")
        assert matches(netns, new)
        assert again.value("op25b_drift_repairs_total") == 0  # a fresh start counts no drift
    finally:
        again.kill_group()
