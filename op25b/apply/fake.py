"""FakeApplier: the in-memory twin of KernelApplier for unit tests of the pure stages.

It keeps the Ruleset it was given, builds the same transaction text the kernel applier would
send (so tests can read it), and `dump()` prints the table in nft syntax.
"""

from __future__ import annotations

from ..errors import KernelError
from ..render.nftables import ruleset_text, transaction
from ..ruleset import Inventory, Ruleset


class FakeApplier:
    def __init__(self) -> None:
        self.tables: dict[str, Ruleset] = {}
        self.scripts: list[str] = []
        self.fail_next: str | None = None  # the next check/apply fails, like a kernel refusal
        self._generation = 1

    def current(self, table: str) -> Ruleset | None:
        return self.tables.get(table)

    def check(self, ruleset: Ruleset) -> None:
        if self.fail_next:
            raise KernelError(self.fail_next)

    def apply(self, ruleset: Ruleset, precheck: bool = False) -> str:
        if self.fail_next:
            message, self.fail_next = self.fail_next, None
            raise KernelError(message)
        script = transaction(ruleset, Inventory.of(self.tables.get(ruleset.table)))
        self.scripts.append(script)
        self.tables[ruleset.table] = ruleset
        self._generation += 1
        return script

    def remove(self, table: str) -> bool:
        self._generation += 1
        return self.tables.pop(table, None) is not None

    def counters(self, table: str) -> dict[str, tuple[int, int]]:
        ruleset = self.tables.get(table)
        return {name: (0, 0) for name in ruleset.counters} if ruleset else {}

    def generation(self) -> int:
        return self._generation

    def dump(self, table: str) -> str:
        ruleset = self.tables.get(table)
        return ruleset_text(ruleset) if ruleset else ""
