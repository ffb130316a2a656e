"""Stage 5, vendor branch: Policy → Cisco IOS-XE named ACLs OP25B-V4 and OP25B-V6, to paste.

Entries follow the kernel's order exactly (render/nftables.py): relays, exempt, each dynamic pool,
submission ports, then permit everything. IPv4 uses wildcard masks, IPv6 prefix notation.
"""

from __future__ import annotations

from ...addresses import FAMILIES, Family, cidr_blocks, format_address
from ...policy import Policy
from .features import FEATURES, Platform, Unsupported, check

NAME = "ios-xe"
# An ACL can only permit or deny. Monitor pools are still expressible: a permit entry's match
# counter (show access-lists) is the would-block count.
SUPPORTED = frozenset(FEATURES) - {"action-reject"}
WHY_NOT = {
    "action-reject": Unsupported(
        "an IOS-XE access list cannot answer with a TCP reset; an entry can only permit or deny",
        "set action: admin-prohibited (a deny answers with ICMP administratively prohibited while "
        "`ip unreachables` / `ipv6 unreachables` are on, the IOS default) or action: drop (silent "
        "only with `no ip unreachables` and `no ipv6 unreachables` on the subscriber interfaces)"),
}
ACL = {"ipv4": ("ip access-list extended OP25B-V4", "no ip access-list extended OP25B-V4"),
       "ipv6": ("ipv6 access-list OP25B-V6", "no ipv6 access-list OP25B-V6")}
ANY_IP = {"ipv4": "ip", "ipv6": "ipv6"}
LABEL = {"ipv4": "IPv4", "ipv6": "IPv6"}
STEP = 10
# The catch-all permit is entered first, at the highest sequence number IOS accepts, so while the
# list is being pasted its implicit deny never drops the subscribers' other traffic.
LAST = 2147483647


def render(policy: Policy) -> str:
    check(NAME, SUPPORTED, policy, WHY_NOT)
    out: list[str] = []
    for family in FAMILIES:
        out += _acl(policy, family)
    return "\n".join(_header(policy) + out) + "\n"


def _acl(policy: Policy, family: Family) -> list[str]:
    entries = _entries(policy, family)
    count = sum(not e.startswith("!") for e in entries)
    body, sequence = [], 0
    for entry in entries:
        if entry.startswith("!"):  # a comment, not a `remark`: remark placement varies between releases
            body.append(f" {entry}")
            continue
        sequence += STEP
        body.append(_numbered(family, sequence, entry))
    create, delete = ACL[family]
    return ["!", f"! {create.split()[-1]}: {count + 1} entries; check them against the platform's ACL TCAM",
            delete, create, _numbered(family, LAST, f"permit {ANY_IP[family]} any any"), *body, "exit"]


def _entries(policy: Policy, family: Family) -> list[str]:
    label = LABEL[family]
    log = " log" if policy.offenders_size else ""  # rate-limited syslog naming each source: our offenders

    def aces(verb: str, intervals, source: bool, suffix: str = "") -> list[str]:
        out = []
        for start, length in cidr_blocks(family, intervals):
            address = _address(family, start, length)
            src, dst = (address, "any") if source else ("any", address)
            out += [f"{verb} tcp {src} {dst} eq {port}{suffix}" for port in policy.blocked_ports]
        return out

    lines = ["! relays: destination is one of the ISP's relays, pass"]
    lines += aces("permit", policy.relays[family], source=False) or [f"! (no {label} relays)"]
    lines += ["! exempt: source is in a static pool or an active exemption, pass"]
    lines += aces("permit", policy.exempt[family], source=True) or [f"! (no {label} exempt prefixes)"]
    for pool in policy.dynamic:
        if pool.mode == "off":
            lines.append(f"! dynamic pool {pool.name}: mode off, so no entry (its traffic reaches the final permit)")
            continue
        if pool.mode == "enforce":
            lines.append(f"! dynamic pool {pool.name}: mode enforce, deny ({policy.action})")
            pool_aces = aces("deny", pool.sets[family], source=True, suffix=log)
        else:
            lines.append(f"! dynamic pool {pool.name}: mode monitor, permit; the matches are the would-block count")
            pool_aces = aces("permit", pool.sets[family], source=True, suffix=log)
        lines += pool_aces or [f"! (no {label} prefixes)"]
    if policy.submission_ports:
        lines.append("! submission ports: never blocked; each entry's matches count them")
        lines += [f"permit tcp any any eq {port}" for port in policy.submission_ports]
    lines.append(f"! everything else passes: sequence {LAST}, entered first")
    return lines


def _numbered(family: Family, sequence: int, entry: str) -> str:
    return f" {sequence} {entry}" if family == "ipv4" else f" sequence {sequence} {entry}"


def _address(family: Family, start: int, length: int) -> str:
    bits = 32 if family == "ipv4" else 128
    if length == 0:
        return "any"
    address = format_address(family, start)
    if length == bits:
        return f"host {address}"
    if family == "ipv4":  # IOS matches IPv4 with wildcard masks: the inverse of the netmask
        return f"{address} {format_address(family, (1 << (bits - length)) - 1)}"
    return f"{address}/{length}"


def _header(policy: Policy) -> list[str]:
    where = (f"on the interfaces that carry subscriber_interfaces ({', '.join(policy.subscriber_interfaces)};"
             " those are Linux names: map each to its IOS-XE interface or PPPoE virtual-template)"
             if policy.subscriber_interfaces else
             "on every subscriber-facing interface (subscriber_interfaces is empty: all forwarded traffic is inspected)")
    lines = [
        "! OP25B access lists for Cisco IOS-XE, generated by `op25b render --vendor ios-xe`.",
        "! Edit the op25b configuration, not this file. Paste in configuration mode.",
        "! Each list is deleted and rebuilt. Until its deny entries arrive, traffic passes: IOS passes",
        "! everything while an applied list does not exist, and the final permit goes in first.",
        "! Apply: an ACL cannot match the interface it is applied on, so apply both inbound",
        f"! {where}:",
        "!   interface NAME",
        "!    ip access-group OP25B-V4 in",
        "!    ipv6 traffic-filter OP25B-V6 in",
        "! Counters: show ip access-lists OP25B-V4 / show ipv6 access-list OP25B-V6 count matches",
        "! per entry, so per prefix: add up a pool's entries for its total.",
    ]
    if any(pool.mode == "enforce" for pool in policy.dynamic):
        lines += _action_note(policy.action)
    if policy.offenders_size and policy.kernel_pools:
        lines.append("! Offenders: pool entries `log`, so rate-limited syslog messages name the sources.")
    return lines


def _action_note(action: str) -> list[str]:
    if action == "drop":  # the ACL alone cannot keep IOS from answering a deny; the interface must
        return ["! action drop: a deny is silent only with `no ip unreachables` and",
                "! `no ipv6 unreachables` on those interfaces; otherwise IOS answers with ICMP unreachable."]
    return ["! action admin-prohibited: a deny answers with ICMP administratively prohibited while",
            "! `ip unreachables` / `ipv6 unreachables` are on (the default), rate-limited by IOS."]


PLATFORM = Platform(NAME, "Cisco IOS-XE named ACLs OP25B-V4/OP25B-V6, wildcard masks (paste in config mode)",
                    SUPPORTED, render)
