"""The `check` summary: what the configuration will do, in words an operator can verify. Pure."""

from __future__ import annotations

from .addresses import format_address
from .reconcile import Compiled


def summary(compiled: Compiled) -> str:
    config, policy = compiled.config, compiled.policy
    out = [f"{config.path}: valid",
           f"  table inet {config.table}, forward hook priority {config.chain_priority}, action {config.action}",
           f"  blocked ports: {_ports(config.blocked_ports)}; submission ports (never blocked): "
           f"{_ports(config.submission_ports)}",
           f"  subscriber interfaces: {', '.join(config.subscriber_interfaces) or 'any'}",
           f"  relays: {_count(config.relays)}",
           "  pools:"]
    width = max((len(p.name) for p in config.pools), default=4)
    for pool in config.pools:
        out.append(f"    {pool.name:<{width}}  {pool.kind:<7}  {pool.mode:<7}  "
                   f"{pool.counts[0]} IPv4 and {pool.counts[1]} IPv6 prefixes")
    if not config.pools:
        out.append("    (none: nothing will be blocked)")
    active = len(config.exemptions) - len(policy.expired)
    out.append(f"  exemptions: {active} active, {len(policy.expired)} expired")
    out += [f"    {line}" for line in policy.expired]
    if policy.overlaps:
        out.append("  overlaps (static pools and exemptions win over dynamic pools):")
        for overlap in policy.overlaps:
            out.append(f"    {overlap.first} and {overlap.second} share "
                       f"{format_address(overlap.family, overlap.start)}-{format_address(overlap.family, overlap.end)}")
    ruleset = compiled.ruleset
    intervals = sum(len(s.elements) for s in ruleset.sets)
    out.append(f"  kernel: {len(ruleset.chains)} chains, {len(ruleset.sets)} sets ({intervals} merged intervals), "
               f"{len(ruleset.counters)} counters")
    return "\n".join(out)


def _ports(ports) -> str:
    return ", ".join(str(p) for p in ports) or "none"


def _count(prefixes) -> str:
    v4 = sum(1 for p in prefixes if p.family == "ipv4")
    return f"{v4} IPv4 and {len(prefixes) - v4} IPv6 prefixes"
