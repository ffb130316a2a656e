"""The ruleset model shared by the renderer, the appliers and `plan`: what our table holds.

Rules are kept as the exact strings `nft list` prints back, so a desired ruleset and one read from
the kernel compare with `==`; the kernel round-trip test (apply, then plan → no change) keeps
the renderer honest about that.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .addresses import Family, Interval


@dataclass(frozen=True)
class SetSpec:
    name: str
    family: Family
    # "interval": contents owned by op25b (flushed and refilled on apply);
    # "dynamic": filled by the kernel itself (offenders); never flushed by an apply.
    kind: str
    elements: tuple[Interval, ...] = ()
    size: int | None = None
    timeout: int | None = None  # seconds

    @property
    def key_type(self) -> str:
        return "ipv4_addr" if self.family == "ipv4" else "ipv6_addr"

    def declaration(self) -> tuple:
        """What must match for an `add set` to be a no-op on an existing set."""
        return (self.key_type, self.kind, self.size, self.timeout)


@dataclass(frozen=True)
class ChainSpec:
    name: str
    rules: tuple[str, ...] = ()
    hook: str | None = None  # e.g. "type filter hook forward priority filter - 10; policy accept;"


@dataclass(frozen=True)
class Ruleset:
    table: str
    counters: tuple[str, ...] = ()
    sets: tuple[SetSpec, ...] = ()
    chains: tuple[ChainSpec, ...] = ()
    # Kernel-side values read back (plan / top); never part of equality.
    counter_values: dict = field(default_factory=dict, compare=False, hash=False)

    def set_named(self, name: str) -> SetSpec | None:
        return next((s for s in self.sets if s.name == name), None)

    def chain_named(self, name: str) -> ChainSpec | None:
        return next((c for c in self.chains if c.name == name), None)


@dataclass(frozen=True)
class Inventory:
    """What exists of our table in the kernel, without set contents (cheap to read via netlink)."""

    table_exists: bool = False
    chains: dict = field(default_factory=dict)  # name → hook line or None
    sets: dict = field(default_factory=dict)  # name → SetSpec.declaration()
    counters: frozenset = frozenset()

    @classmethod
    def of(cls, ruleset: Ruleset | None) -> Inventory:
        if ruleset is None:
            return cls()
        return cls(True, {c.name: c.hook for c in ruleset.chains},
                   {s.name: s.declaration() for s in ruleset.sets}, frozenset(ruleset.counters))
