"""Stage 4: the frozen Policy — what is blocked — and `verdict()`, the oracle `explain` uses.

`verdict` evaluates exactly the order the kernel rules use (render/nftables.py):
port → relay destination → static/exempt source → dynamic pool by mode → not in any pool.
The differential test holds the kernel to this function probe by probe.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from . import pools as pool_algebra
from .addresses import contains, parse_address, parse_prefix
from .config import Config, Exemption
from .pools import ByFamily, Overlap


@dataclass(frozen=True)
class DynamicPool:
    name: str
    mode: str  # enforce | monitor | off
    sets: ByFamily
    prefix_count: dict


@dataclass(frozen=True)
class ExemptSource:
    label: str  # "static pool biz-fixed"
    sets: ByFamily


@dataclass(frozen=True)
class Policy:
    table: str
    chain_priority: int
    action: str
    blocked_ports: tuple[int, ...]
    submission_ports: tuple[int, ...]
    subscriber_interfaces: tuple[str, ...]
    relays: ByFamily
    exempt: ByFamily  # union of static pools and active exemptions
    exempt_sources: tuple[ExemptSource, ...]  # the static pools
    exemptions: tuple[Exemption, ...]  # the active ones; labelled only when `explain` asks
    dynamic: tuple[DynamicPool, ...]  # in configuration order; `off` pools included
    offenders_size: int
    offenders_timeout: int
    overlaps: tuple[Overlap, ...]
    expired: tuple[str, ...]  # exemptions that no longer apply, for `check`

    @property
    def kernel_pools(self) -> tuple[DynamicPool, ...]:
        """Dynamic pools that have rules in the kernel (off pools have none)."""
        return tuple(p for p in self.dynamic if p.mode != "off")


@dataclass(frozen=True)
class Verdict:
    action: str  # blocked | would-block | pass
    reason: str
    pool: str | None = None

    @property
    def blocked(self) -> bool:
        return self.action == "blocked"


def compile_policy(config: Config, today: dt.date | None = None) -> Policy:
    """Config → Policy. Raises ConfigErrors when dynamic pools overlap.

    Pools arrive merged (config.Pool.intervals); the policy shares those tuples, so a large pool
    is held once however many stages look at it."""
    today = today or dt.date.today()
    dynamic = {pool.name: pool.intervals for pool in pool_algebra.dynamic_pools(config)}
    pool_algebra.dynamic_conflicts(config, dynamic)
    pool_algebra.relay_conflicts(config, dynamic)

    statics = [p for p in config.pools if p.kind == "static"]
    exempt_sources = tuple(ExemptSource(f"static pool {p.name!r}", p.intervals) for p in statics)
    active = tuple(pool_algebra.active_exemptions(config, today))
    exempted = pool_algebra.by_family([e.prefix for e in active])
    exempt = pool_algebra.union([exempted] + [p.intervals for p in statics])
    expired = tuple(f"exemption {e.prefix} expired on {e.expires}" for e in config.exemptions
                    if not e.active(today))
    # Static pools inside dynamic ones are worth a look; exemptions inside them are their purpose,
    # so only the union of exemptions is checked (one label, however many exemptions there are).
    exempt_labelled = [(source.label, source.sets) for source in exempt_sources]
    if active:
        exempt_labelled.append((f"{len(active)} exemption(s)", exempted))
    overlaps = tuple(pool_algebra.find_overlaps([(f"dynamic pool {name!r}", sets) for name, sets in dynamic.items()],
                                                against=exempt_labelled))
    return Policy(
        table=config.table,
        chain_priority=config.chain_priority,
        action=config.action,
        blocked_ports=config.blocked_ports,
        submission_ports=config.submission_ports,
        subscriber_interfaces=config.subscriber_interfaces,
        relays=pool_algebra.by_family(config.relays),
        exempt=exempt,
        exempt_sources=exempt_sources,
        exemptions=active,
        dynamic=tuple(DynamicPool(pool.name, pool.mode, pool.intervals, dict(zip(("ipv4", "ipv6"), pool.counts, strict=True)))
                      for pool in pool_algebra.dynamic_pools(config)),
        offenders_size=config.offenders.size if config.offenders.enabled else 0,
        offenders_timeout=config.offenders.timeout_seconds,
        overlaps=overlaps,
        expired=expired,
    )


def verdict(policy: Policy, source: str, port: int = 25, destination: str | None = None,
            interface: str | None = None) -> Verdict:
    """What the kernel does with a TCP packet from `source` to `destination`:`port`."""
    family, address = parse_address(source)
    if port not in policy.blocked_ports:
        if port in policy.submission_ports:
            return Verdict("pass", f"port {port} is a submission port: never blocked, counted")
        return Verdict("pass", f"port {port} is not a blocked port ({_ports(policy.blocked_ports)})")
    if interface is not None and policy.subscriber_interfaces and not _iface_matches(policy, interface):
        return Verdict("pass", f"interface {interface} is not a subscriber interface")
    if destination is not None:
        dest_family, dest = parse_address(destination)
        if dest_family != family:
            raise ValueError(f"source {source} and destination {destination} are of different families")
        if contains(policy.relays[family], dest):
            return Verdict("pass", f"destination {destination} is one of the ISP's relays")
    if contains(policy.exempt[family], address):
        return Verdict("pass", f"source is exempt: {_exempt_label(policy, family, address)}")
    for pool in policy.dynamic:
        if contains(pool.sets[family], address):
            if pool.mode == "enforce":
                return Verdict("blocked", f"source is in dynamic pool {pool.name!r} (mode enforce)", pool.name)
            if pool.mode == "monitor":
                return Verdict("would-block", f"source is in dynamic pool {pool.name!r} (mode monitor: "
                               "counted as would-block, passed)", pool.name)
            return Verdict("pass", f"source is in dynamic pool {pool.name!r}, whose mode is off", pool.name)
    return Verdict("pass", f"source {source} is in no pool")


def _exempt_label(policy: Policy, family: str, address: int) -> str:
    for source in policy.exempt_sources:
        if contains(source.sets[family], address):
            return source.label
    for exemption in policy.exemptions:
        prefix = exemption.prefix
        if prefix.family == family and prefix.start <= address <= prefix.end:
            why = f" ({exemption.reason})" if exemption.reason else ""
            until = f", until {exemption.expires}" if exemption.expires else ""
            return f"exemption {prefix}{why}{until}"
    return "exempt"


def _ports(ports: tuple[int, ...]) -> str:
    return ", ".join(str(p) for p in ports) or "none"


def _iface_matches(policy: Policy, interface: str) -> bool:
    return any(interface == p or (p.endswith("*") and interface.startswith(p[:-1]))
               for p in policy.subscriber_interfaces)


__all__ = ["Policy", "Verdict", "DynamicPool", "compile_policy", "verdict", "parse_prefix"]
