"""Fixtures for kernel tests: a lab per test (namespaces removed even on failure) and helpers."""

from __future__ import annotations

import sys

import pytest

from op25b.lab.topology import lab_config


@pytest.fixture
def op25b(lab, tmp_path):
    """Run the op25b CLI inside the router namespace: op25b("apply", config_text=...)."""

    def run(command: str, *args: str, config_text: str | None = None, check: bool = True):
        path = tmp_path / "op25b.yaml"
        if config_text is not None:
            path.write_text(config_text)
        elif not path.exists():
            path.write_text(lab_config())
        return lab.run(lab.router, sys.executable, "-m", "op25b", command, "-c", str(path), *args, check=check)

    return run


@pytest.fixture
def counters(op25b):
    """counters() → {named counter: packets}, read through netlink by `op25b stats`."""
    import json

    return lambda: {k: v["packets"] for k, v in json.loads(op25b("stats", "--json").stdout).items()}
