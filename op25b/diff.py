"""Compare the desired Ruleset with the kernel's: the lines `plan` prints. Pure."""

from __future__ import annotations

from .render.nftables import element_text
from .ruleset import Ruleset


def diff(desired: Ruleset, current: Ruleset | None) -> list[str]:
    """Human-readable changes, empty when the kernel already matches."""
    if current is None:
        sets = sum(len(s.elements) for s in desired.sets)
        return [f"+ table inet {desired.table}: {len(desired.chains)} chains, {len(desired.sets)} sets "
                f"({sets} intervals), {len(desired.counters)} counters"]
    changes: list[str] = []
    for name in desired.counters:
        if name not in current.counters:
            changes.append(f"+ counter {name}")
    changes += [f"- counter {name}" for name in current.counters if name not in desired.counters]
    for spec in desired.sets:
        have = current.set_named(spec.name)
        if have is None:
            changes.append(f"+ set {spec.name} ({len(element_text(spec.family, spec.elements))} prefixes)")
        elif have.declaration() != spec.declaration():
            changes.append(f"~ set {spec.name}: declaration {have.declaration()} → {spec.declaration()}")
        elif spec.kind == "interval" and have.elements != spec.elements:
            added = set(element_text(spec.family, spec.elements)) - set(element_text(have.family, have.elements))
            removed = set(element_text(have.family, have.elements)) - set(element_text(spec.family, spec.elements))
            changes.append(f"~ set {spec.name}: +{len(added)} -{len(removed)} prefixes"
                           + _sample(" add ", added) + _sample(" remove ", removed))
    wanted = {s.name for s in desired.sets}
    changes += [f"- set {s.name}" for s in current.sets if s.name not in wanted]
    for chain in desired.chains:
        have = current.chain_named(chain.name)
        if have is None:
            changes.append(f"+ chain {chain.name} ({len(chain.rules)} rules)")
            continue
        if have.hook != chain.hook:
            changes.append(f"~ chain {chain.name}: {have.hook} → {chain.hook}")
        for rule in chain.rules:
            if rule not in have.rules:
                changes.append(f"+ rule {chain.name}: {rule}")
        for rule in have.rules:
            if rule not in chain.rules:
                changes.append(f"- rule {chain.name}: {rule}")
        if set(have.rules) == set(chain.rules) and have.rules != chain.rules:
            changes.append(f"~ chain {chain.name}: rule order differs")
    wanted_chains = {c.name for c in desired.chains}
    changes += [f"- chain {c.name}" for c in current.chains if c.name not in wanted_chains]
    return changes


def _sample(label: str, items: set[str], limit: int = 3) -> str:
    if not items:
        return ""
    shown = sorted(items)[:limit]
    more = f" … (+{len(items) - limit})" if len(items) > limit else ""
    return f";{label}{', '.join(shown)}{more}"
