"""Policy → Ruleset → nft text. Pure: no kernel, no files.

The table contract (docs/architecture.md): one `inet` table; one base chain on the forward hook;
non-SMTP traffic pays a single `tcp dport` map lookup; per family the smtp chain checks relay
destination, then exempt sources, then each dynamic pool's set, in that order — the same order
policy.verdict() evaluates. Rules are written exactly as `nft list` prints them back.
"""

from __future__ import annotations

from ..addresses import FAMILIES, Family, cidr_blocks, format_address
from ..policy import Policy
from ..ruleset import ChainSpec, Inventory, Ruleset, SetSpec
from . import names

ACTION_STATEMENT = {
    "reject": "reject with tcp reset",
    "drop": "drop",
    "admin-prohibited": "reject with icmpx admin-prohibited",
}
# nft adds this dependency when it prints a tcp reset in a chain that did not match tcp itself.
_TCP_DEPENDENCY = {"reject": "meta l4proto tcp "}


def hook_line(priority: int) -> str:
    return f"type filter hook forward priority {priority}; policy accept;"  # numeric: see nftparse


def build_ruleset(policy: Policy) -> Ruleset:
    sets: list[SetSpec] = []
    counters: list[str] = []
    chains: list[ChainSpec] = []

    dispatch = {port: names.INGRESS if policy.subscriber_interfaces else names.SMTP
                for port in policy.blocked_ports}
    dispatch.update({port: names.SUBMISSION for port in policy.submission_ports})
    vmap = ", ".join(f"{port} : jump {chain}" for port, chain in sorted(dispatch.items()))
    chains.append(ChainSpec(names.FORWARD, (f"tcp dport vmap {{ {vmap} }}",), hook_line(policy.chain_priority)))
    if policy.subscriber_interfaces:
        chains.append(ChainSpec(names.INGRESS, tuple(f'iifname "{pattern}" goto {names.SMTP}'
                                                     for pattern in policy.subscriber_interfaces)))
    by_family = ", ".join(f"{family} : jump {names.smtp_chain(family)}" for family in FAMILIES)
    chains.append(ChainSpec(names.SMTP, (f"meta nfproto vmap {{ {by_family} }}",)))

    for family in FAMILIES:
        rules, family_sets, family_counters = _smtp_family(policy, family)
        chains.append(ChainSpec(names.smtp_chain(family), tuple(rules)))
        sets.extend(family_sets)
        counters.extend(family_counters)

    submission_rules = []
    for port in policy.submission_ports:
        for family in FAMILIES:
            counter = names.submission_counter(port, family)
            counters.append(counter)
            submission_rules.append(f'meta nfproto {family} tcp dport {port} counter name "{counter}" return')
    chains.append(ChainSpec(names.SUBMISSION, tuple(submission_rules)))
    return Ruleset(names.safe(policy.table), tuple(counters), tuple(sets), tuple(chains))


def _smtp_family(policy: Policy, family: Family) -> tuple[list[str], list[SetSpec], list[str]]:
    ip = names.SELECTOR[family]
    relays, exempt = names.relays_set(family), names.exempt_set(family)
    relay_counter, exempt_counter = names.relay_counter(family), names.exempt_counter(family)
    sets = [SetSpec(relays, family, "interval", policy.relays[family]),
            SetSpec(exempt, family, "interval", policy.exempt[family])]
    counters = [relay_counter, exempt_counter]
    rules = [f'{ip} daddr @{relays} counter name "{relay_counter}" return',
             f'{ip} saddr @{exempt} counter name "{exempt_counter}" return']
    track = ""
    if policy.offenders_size:
        offenders = names.offenders_set(family)
        sets.append(SetSpec(offenders, family, "dynamic", (), policy.offenders_size, policy.offenders_timeout))
        track = f"update @{offenders} {{ {ip} saddr }} "
    for pool in policy.kernel_pools:
        dynamic = names.dynamic_set(pool.name, family)
        sets.append(SetSpec(dynamic, family, "interval", pool.sets[family]))
        if pool.mode == "enforce":
            counter = names.blocked_counter(pool.name, family)
            verdict = ACTION_STATEMENT[policy.action]
            dependency = _TCP_DEPENDENCY.get(policy.action, "")
        else:  # monitor: count as would-block, let it pass
            counter = names.would_block_counter(pool.name, family)
            verdict, dependency = "return", ""
        counters.append(counter)
        rules.append(f'{dependency}{ip} saddr @{dynamic} {track}counter name "{counter}" {verdict}')
    return rules, sets, counters


# --- text --------------------------------------------------------------------------------------


def element_text(family: Family, intervals) -> list[str]:
    full = 32 if family == "ipv4" else 128
    return [format_address(family, start) if length == full else f"{format_address(family, start)}/{length}"
            for start, length in cidr_blocks(family, intervals)]


def set_declaration(spec: SetSpec) -> str:
    if spec.kind == "dynamic":
        return (f"type {spec.key_type}; size {spec.size}; flags dynamic,timeout; "
                f"counter; timeout {spec.timeout}s;")
    return f"type {spec.key_type}; flags interval;"


def transaction(desired: Ruleset, current: Inventory) -> str:
    """The one atomic nft script that turns `current` into `desired`.

    `add` is idempotent for tables, chains, sets and counters, so named counters (and the
    kernel-filled offender sets) survive; chains are flushed and refilled and interval sets
    flushed and refilled, all inside one transaction, so no packet sees a half-applied state.
    """
    t = f"inet {desired.table}"
    out = [f"add table {t}"]
    out += [f"add counter {t} {name}" for name in desired.counters]
    wanted_chains = {c.name for c in desired.chains}
    wanted_sets = {s.name: s for s in desired.sets}
    for chain in desired.chains:
        if chain.name in current.chains and current.chains[chain.name] != chain.hook:
            out.append(f"flush chain {t} {chain.name}")
            out.append(f"delete chain {t} {chain.name}")  # its hook or priority changed
    for chain in desired.chains:
        spec = f" {{ {chain.hook} }}" if chain.hook else ""
        out.append(f"add chain {t} {chain.name}{spec}")
    # Flush every chain first: afterwards nothing references a set we may delete or redeclare.
    out += [f"flush chain {t} {name}" for name in sorted(set(current.chains) | wanted_chains)]
    out += [f"delete chain {t} {name}" for name in sorted(set(current.chains) - wanted_chains)]
    for name, declaration in sorted(current.sets.items()):
        if name not in wanted_sets or wanted_sets[name].declaration() != declaration:
            out.append(f"delete set {t} {name}")
    out += [f"delete counter {t} {name}" for name in sorted(current.counters - set(desired.counters))]
    for spec in desired.sets:
        out.append(f"add set {t} {spec.name} {{ {set_declaration(spec)} }}")
        if spec.kind == "interval":
            out.append(f"flush set {t} {spec.name}")
            elements = element_text(spec.family, spec.elements)
            if elements:
                out.append(f"add element {t} {spec.name} {{ " + ",\n\t".join(elements) + " }")
    for chain in desired.chains:
        out += [f"add rule {t} {chain.name} {rule}" for rule in chain.rules]
    return "\n".join(out) + "\n"


def ruleset_text(ruleset: Ruleset) -> str:
    """A readable, declarative listing (what `op25b render` prints and golden files hold)."""
    out = [f"table inet {ruleset.table} {{"]
    for name in ruleset.counters:
        out.append(f"\tcounter {name} {{\n\t}}\n")
    for spec in ruleset.sets:
        body = set_declaration(spec).replace("; ", "\n\t\t").rstrip(";")
        out.append(f"\tset {spec.name} {{\n\t\t{body}")
        elements = element_text(spec.family, spec.elements)
        if elements:
            out.append("\t\telements = { " + ",\n\t\t\t     ".join(elements) + " }")
        out.append("\t}\n")
    for chain in ruleset.chains:
        out.append(f"\tchain {chain.name} {{")
        if chain.hook:
            out.append(f"\t\t{chain.hook}")
        out += [f"\t\t{rule}" for rule in chain.rules]
        out.append("\t}\n")
    out[-1] = out[-1].rstrip("\n")
    out.append("}")
    return "\n".join(out) + "\n"


def remove_text(table: str) -> str:
    return f"delete table inet {names.safe(table)}\n"
