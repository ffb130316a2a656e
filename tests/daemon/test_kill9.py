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


def matches(netns: str, config: Path) -> bool:
    import subprocess

    done = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-m", "op25b", "plan", "-c", str(config)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode == 0


@pytest.mark.parametrize("window", [(0.0, 1.5), (1.5, 4.0)])
def test_kill9_during_a_large_apply_leaves_old_or_new(netns, tmp_path, window):
    """The daemon commits with one sendto(2) of the whole netlink batch; the kernel finishes a
    batch before a SIGKILL takes effect, so a kill at any moment (compiling, encoding, inside
    the commit, or after it) leaves the old or the new ruleset. The two windows after SIGHUP
    cover the reload (~0.5 s at 50k+50k here), the diff, and the commit (~1 s)."""
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
        delay = random.uniform(*window)
        time.sleep(delay)
        os.kill(daemon.pid, signal.SIGKILL)
        daemon.process.wait(timeout=30)
        applied = daemon.log_path.read_text().count("applied table inet")
        print(f"killed the daemon {delay:.2f} s after SIGHUP; applies logged by then: {applied}")
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
