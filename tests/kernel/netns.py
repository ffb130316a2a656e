"""A throwaway network namespace for in-process kernel tests: entered with pyroute2's pushns,
so netlink sockets and `nft` children opened inside act on it; deleted on the way out, also
when the test fails."""

from __future__ import annotations

import contextlib
import subprocess
import uuid


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True)  # noqa: S603 -- fixed argv, names made here


@contextlib.contextmanager
def namespace(prefix: str = "o25t"):
    from pyroute2 import netns

    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    _ip("netns", "add", name)
    try:
        netns.pushns(name)
        try:
            yield name
        finally:
            netns.popns()
    finally:
        _ip("netns", "del", name)
