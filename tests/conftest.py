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
