"""Stage 3: pool algebra. Per family, merge each pool's prefixes and find overlaps between pools.

The kernel checks relays, then static/exempt space, then each dynamic pool, so nothing is
subtracted here: exemptions win by rule order, which keeps the dynamic sets equal to what the
operator wrote. Two dynamic pools may not overlap (an address would have two modes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import islice
from operator import gt, itemgetter

from .addresses import FAMILIES, Family, Interval, Prefix, merge
from .config import Config, Pool
from .errors import ConfigError, ConfigErrors

ByFamily = dict[Family, tuple[Interval, ...]]
_START, _END = itemgetter(0), itemgetter(1)


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
    return {family: tuple(merge(raw[family])) for family in FAMILIES}


def union(sources: list[ByFamily]) -> ByFamily:
    """The merged union of several per-family interval sets."""
    return {family: tuple(merge(i for source in sources for i in source[family])) for family in FAMILIES}


def find_overlaps(labelled: list[tuple[str, ByFamily]]) -> list[Overlap]:
    """The first shared range of each overlapping pair of labelled sources, per family.

    Each source is merged (sorted, disjoint), so sources overlap only if, in the start-sorted
    union, some interval starts at or before the previous one ends. The common case (no overlap
    at all) is confirmed once per family for all sources at C speed; only then are pairs examined.
    """
    found: list[Overlap] = []
    for family in FAMILIES:
        everything = [interval for _, sets in labelled for interval in sets[family]]
        if not _any_overlap(sorted(everything)):
            continue
        for i, (first, first_sets) in enumerate(labelled):
            for second, second_sets in labelled[i + 1:]:
                shared = _first_shared(first_sets[family], second_sets[family])
                if shared:
                    found.append(Overlap(family, first, second, *shared))
    order = {label: i for i, (label, _) in enumerate(labelled)}
    found.sort(key=lambda o: (order[o.first], order[o.second], FAMILIES.index(o.family)))
    return found


def _any_overlap(ordered: list[Interval]) -> bool:
    """Whether some interval of a start-sorted list starts at or before the previous one ends."""
    return not all(map(gt, map(_START, islice(ordered, 1, None)), map(_END, ordered)))


def _first_shared(a: tuple[Interval, ...], b: tuple[Interval, ...]) -> Interval | None:
    """Each list is merged (sorted, disjoint), so in their start-sorted union any overlap shows up
    between neighbours; sorted() merges the two runs at C speed, and so does the check."""
    if not a or not b:
        return None
    union = sorted(a + b)
    if not _any_overlap(union):
        return None
    for (_, first_end), (second_start, second_end) in zip(union, union[1:], strict=False):
        if second_start <= first_end:
            return second_start, min(first_end, second_end)
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
