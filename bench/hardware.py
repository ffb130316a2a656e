"""The `meta` block of every results file: where and with what the numbers were measured."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from importlib import metadata

from .common import REPO, sh


def describe() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                  if line.startswith("model name")), "unknown")
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],  # noqa: S603,S607
                            capture_output=True, text=True, check=False).stdout.strip()
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "nft": sh("nft", "--version").stdout.strip(),
        "iperf3": sh("iperf3", "--version", check=False).stdout.splitlines()[0:1],
        "iptables": sh("iptables", "-V", check=False).stdout.strip(),
        "python": platform.python_version(),
        "pyroute2": metadata.version("pyroute2"),
        "loadavg_at_start": os.getloadavg(),
        "commit": commit,
    }
