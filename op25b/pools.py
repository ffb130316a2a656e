"""Stage 3: pool algebra. Per family, merge each pool's prefixes and find overlaps between pools.

The kernel checks relays, then static/exempt space, then each dynamic pool, so nothing is
subtracted here: exemptions win by rule order, which keeps the dynamic sets equal to what the
operator wrote. Two dynamic pools may not overlap (an address would have two modes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import chain

from .addresses import FAMILIES, Family, Interval, Prefix, merge
from .config import Config, Pool
from .errors import ConfigError, ConfigErrors
from .intervals import Intervals, first_overlap

ByFamily = dict[Family, Intervals]  # merged intervals per family, packed (op25b/intervals.py)


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
    bits = {"ipv4": 32, "ipv6": 128}
    for family, start, length in prefixes:  # unpacked inline: this loop sees every prefix
        raw[family].append((start, start + (1 << (bits[family] - length)) - 1))
    return {family: Intervals.pack(family, merge(raw[family])) for family in FAMILIES}


def union(sources: list[ByFamily]) -> ByFamily:
    """The merged union of several per-family interval sets."""
    return {family: Intervals.pack(family, merge(chain.from_iterable(source[family] for source in sources)))
            for family in FAMILIES}


def find_overlaps(labelled: list[tuple[str, ByFamily]],
                  against: list[tuple[str, ByFamily]] | None = None) -> list[Overlap]:
    """The first shared range of each overlapping pair of labelled sources, per family: pairs
    within `labelled`, or, when `against` is given, pairs of one source from each list.

    Where no pair can overlap, one check of all sources together per family says so; only
    otherwise are pairs examined (intervals.first_overlap: a sort of packed records, C speed).
    """
    found: list[Overlap] = []
    if against is None:
        pairs = [(a, b) for i, a in enumerate(labelled) for b in labelled[i + 1:]]
    else:
        pairs = [(a, b) for a in labelled for b in against]
    for family in FAMILIES:
        if against is None and first_overlap([sets[family] for _, sets in labelled]) is None:
            continue
        for (first, first_sets), (second, second_sets) in pairs:
            shared = first_overlap([first_sets[family], second_sets[family]])
            if shared:
                found.append(Overlap(family, first, second, *shared))
    order = {pair: i for i, pair in enumerate((a[0], b[0]) for a, b in pairs)}
    found.sort(key=lambda o: (order[(o.first, o.second)], FAMILIES.index(o.family)))
    return found


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


def relay_conflicts(config: Config, dynamic: dict[str, ByFamily]) -> None:
    """Refuse relays inside dynamic pools: relays are ISP servers on managed addresses. Checked
    against the merged pool sets, O(relays × log prefixes), instead of every pool prefix."""
    from .addresses import overlaps

    errors = [ConfigError(where, f"relay {relay} lies inside dynamic pool {name!r}",
                          "relays must be ISP servers on managed addresses, not subscriber space")
              for relay, where in zip(config.relays, config.relay_wheres, strict=False)
              for name, sets in dynamic.items() if overlaps(sets[relay.family], relay.start, relay.end)]
    if errors:
        raise ConfigErrors(errors)


def active_exemptions(config: Config, today: dt.date) -> list:
    return [e for e in config.exemptions if e.active(today)]


def dynamic_pools(config: Config) -> list[Pool]:
    return [pool for pool in config.pools if pool.kind == "dynamic"]
