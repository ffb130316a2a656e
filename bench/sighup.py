"""SIGHUP → new rules in the kernel: the daemon's reload latency, against a full `op25b apply`.

Needs `op25b run` (the daemon); until it exists this reports nothing and says so.
"""

from __future__ import annotations

from .common import OP25B, log, sh
from .shapes import Shape


def available() -> bool:
    return sh(OP25B, "run", "--help", check=False).returncode == 0


def measure(shape: Shape, repeats: int) -> list[dict]:
    if not available():
        log("  skipped: `op25b run` does not exist yet")
        return []
    from .daemon_reload import measure as reload

    return reload(shape, repeats)
