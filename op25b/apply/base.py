"""The Applier protocol: the only way op25b reads or changes the kernel."""

from __future__ import annotations

from typing import Protocol

from ..ruleset import Ruleset


class Applier(Protocol):
    def current(self, table: str) -> Ruleset | None:
        """Our table as the kernel holds it now (with set contents), or None when absent."""

    def check(self, ruleset: Ruleset) -> None:
        """Validate the transaction for `ruleset` in the kernel without committing. Raises KernelError."""

    def apply(self, ruleset: Ruleset, precheck: bool = False) -> str:
        """Commit `ruleset` as one atomic transaction; return what was sent (a summary or the script).
        Raises KernelError, and the kernel then keeps what it had."""

    def remove(self, table: str) -> bool:
        """Delete our table (only ours). False when it was not there."""

    def counters(self, table: str) -> dict[str, tuple[int, int]]:
        """Named counter → (packets, bytes)."""

    def generation(self) -> int:
        """The ruleset generation id; it changes whenever any table changes."""
