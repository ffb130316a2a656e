"""Stage 3: pool algebra. Per family, merge each pool's prefixes and find overlaps between pools.

The kernel checks relays, then static/exempt space, then each dynamic pool, so nothing is
subtracted here: exemptions win by rule order, which keeps the dynamic sets equal to what the
operator wrote. Two dynamic pools may not overlap (an address would have two modes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .addresses import FAMILIES, Family, Interval, Prefix, merge
from .config import Config, Pool
from .errors import ConfigError, ConfigErrors

ByFamily = dict[Family, tuple[Interval, ...]]


@dataclass(frozen=True)
class Overlap:
    """Two sources that cover common addresses (reported by `check`)."""

    family: Family
    first: str  # e.g. "dynamic pool ftth-east"
    second: str
    start: int
    end: int


def by_family(prefixes: tuple[Prefix, ...] | list[Prefix]) -> ByFamily:
    raw: dict[Family, list[Interval]] = {family: [] for family in FAMILIES}
    for prefix in prefixes:
        raw[prefix.family].append((prefix.start, prefix.end))
    return {family: tuple(merge(raw[family])) for family in FAMILIES}


def find_overlaps(labelled: list[tuple[str, ByFamily]]) -> list[Overlap]:
    """The first shared range of each overlapping pair of labelled sources, per family.

    Pairwise two-pointer walks over already merged, sorted lists: O(n + m) per pair, and the
    labels are pools (tens), never individual prefixes.
    """
    found: list[Overlap] = []
    for i, (first, first_sets) in enumerate(labelled):
        for second, second_sets in labelled[i + 1:]:
            for family in FAMILIES:
                shared = _first_shared(first_sets[family], second_sets[family])
                if shared:
                    found.append(Overlap(family, first, second, *shared))
    return found


def _first_shared(a: tuple[Interval, ...], b: tuple[Interval, ...]) -> Interval | None:
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start <= end:
            return start, end
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return None


def dynamic_conflicts(config: Config, dynamic: dict[str, ByFamily]) -> None:
    """Refuse dynamic pools that overlap each other: the address's mode would be ambiguous."""
    labelled = [(name, sets) for name, sets in dynamic.items()]
    errors = []
    pools = {pool.name: pool for pool in config.pools}
    from .addresses import format_address

    for overlap in find_overlaps(labelled):
        second = pools[overlap.second]
        errors.append(ConfigError(
            second.where,
            f"dynamic pools {overlap.first!r} and {overlap.second!r} overlap at "
            f"{format_address(overlap.family, overlap.start)}",
            "an address may belong to one dynamic pool only; split or remove the shared prefixes"))
    if errors:
        raise ConfigErrors(errors)


def active_exemptions(config: Config, today: dt.date) -> list:
    return [e for e in config.exemptions if e.active(today)]


def dynamic_pools(config: Config) -> list[Pool]:
    return [pool for pool in config.pools if pool.kind == "dynamic"]
