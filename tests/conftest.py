"""Shared test switches: --update-golden, and the `kernel` marker's root/nft precondition."""

from __future__ import annotations

import os
import shutil

import pytest


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite tests/data golden files from the current renderer (on purpose only)")


@pytest.fixture
def update_golden(request) -> bool:
    return request.config.getoption("--update-golden")


def pytest_collection_modifyitems(config, items):
    reason = None
    if os.geteuid() != 0:
        reason = "kernel tests need root (network namespaces and nf_tables)"
    elif not shutil.which("nft") or not shutil.which("ip"):
        reason = "kernel tests need the nft and ip binaries (scripts/setup.sh installs them)"
    if reason:
        for item in items:
            if "kernel" in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


# --- lab fixtures shared by tests/kernel and tests/daemon -------------------------------------


@pytest.fixture
def lab():
    """A fresh three-namespace lab (op25b.lab.Lab); its namespaces are deleted even on failure."""
    from op25b.lab import Lab

    with Lab() as created:
        yield created


@pytest.fixture
def listener(lab):
    """SMTP servers (aiosmtpd) on 25/587/465 in the lab's internet namespace."""
    import subprocess
    import sys

    process = lab.popen(lab.internet, sys.executable, "-m", "op25b.lab.listener", "25", "587", "465",
                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def connect(lab):
    """connect(source, dest, port) → accepted | refused | timeout | unreachable, from the subscriber side."""
    import sys

    def run(source: str, dest: str, port: int, timeout: float = 1.5) -> str:
        return lab.run(lab.sub, sys.executable, "-m", "op25b.lab.connect", source, dest, str(port),
                       str(timeout)).stdout.strip()

    return run
