"""Parsed source files kept by content, for the daemon's reloads.

A reload re-reads every source file's bytes (a hash of a few MB costs milliseconds) but parses
only files whose bytes changed; an unchanged pool file yields the very same interval tuples as
before. That makes a SIGHUP after a one-line change cheap, and, more importantly at 100k+100k
prefixes, it keeps the running policy and the one being compiled from each holding a private
copy of every pool (~35 MB) at the moment of the reload.

Entries not used by the latest load are dropped by `sweep()`, so the cache holds one
configuration's sources, plus those of a load that failed until the next one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any


class SourceCache:
    def __init__(self) -> None:
        self._entries: dict[tuple[str, bytes], Any] = {}
        self._used: set[tuple[str, bytes]] = set()

    def parse(self, path: Path, data: bytes, parser: Callable[[], Any]) -> Any:
        key = (str(Path(path).resolve()), hashlib.sha256(data).digest())
        self._used.add(key)
        if key not in self._entries:
            self._entries[key] = parser()
        return self._entries[key]

    def sweep(self) -> None:
        """Forget what the latest load did not use."""
        self._entries = {key: value for key, value in self._entries.items() if key in self._used}
        self._used = set()

    def __len__(self) -> int:
        return len(self._entries)
