"""Stage 5, vendor branch: Policy → Junos firewall filters, in curly syntax for `load replace`.

One filter per family, OP25B-V4 (family inet) and OP25B-V6 (family inet6). Terms follow the kernel's
order exactly (render/nftables.py): relays, exempt, each dynamic pool, submission ports, default.
"""

from __future__ import annotations

from ...addresses import FAMILIES, Family, cidr_blocks, format_address
from ...policy import Policy
from .features import FEATURES, Platform, check

NAME = "junos"
# Prefix-lists, terms, per-term counters and the `log` modifier express every feature; the
# ingress-interface match becomes the operator's `filter input` step (see _header).
SUPPORTED = frozenset(FEATURES)
FILTER = {"ipv4": "OP25B-V4", "ipv6": "OP25B-V6"}
JUNOS_FAMILY = {"ipv4": "inet", "ipv6": "inet6"}
SUFFIX = {"ipv4": "v4", "ipv6": "v6"}
LABEL = {"ipv4": "IPv4", "ipv6": "IPv6"}
# IPv6: payload-protocol finds TCP behind extension headers; next-header reads only the first
# header, so a packet carrying a destination-options header would walk past the block.
TCP = {"ipv4": "protocol tcp;", "ipv6": "payload-protocol tcp;"}
ACTION = {"reject": "reject tcp-reset;", "drop": "discard;",
          "admin-prohibited": "reject administratively-prohibited;"}
INDENT = "    "


def render(policy: Policy) -> str:
    check(NAME, SUPPORTED, policy)
    prefix_lists: list[str] = []
    filters: list[str] = []
    for family in FAMILIES:
        lists, terms = _family(policy, family)
        prefix_lists += lists
        block = ["replace:", f"filter {FILTER[family]} {{", *_indent(terms), "}"]
        filters += [f"family {JUNOS_FAMILY[family]} {{", *_indent(block), "}"]
    out = _header(policy)
    if prefix_lists:  # an empty policy-options block would be harmless, but it is noise
        out += ["policy-options {", *_indent(prefix_lists), "}"]
    out += ["firewall {", *_indent(filters), "}"]
    return "\n".join(out) + "\n"


def _family(policy: Policy, family: Family) -> tuple[list[str], list[str]]:
    """The prefix-lists and the terms of one family's filter."""
    sfx, label = SUFFIX[family], LABEL[family]
    smtp = [TCP[family], _ports(policy.blocked_ports)]
    lists: list[str] = []

    def term(name: str, subject: str, why: str, match: str, prefix_list: str, intervals,
             actions: list[str]) -> list[str]:
        # An empty set matches nothing, so its term is left out rather than pointed at an empty
        # prefix-list, whose meaning inside a filter is easy to misread.
        if not intervals:
            return [f"# {subject}: no {label} prefixes, so no term"]
        entries = [f"{format_address(family, start)}/{length};" for start, length in cidr_blocks(family, intervals)]
        lists.extend(["replace:", f"prefix-list {prefix_list} {{", *_indent(entries), "}"])
        return _term(name, f"{subject}: {why}", [f"{match} {{", f"{INDENT}{prefix_list};", "}", *smtp], actions)

    terms = term("relays", "relays", "destination is one of the ISP's relays, pass", "destination-prefix-list",
                 f"op25b-relays-{sfx}", policy.relays[family], [f"count relay-{sfx};", "accept;"])
    terms += term("exempt", "exempt", "source is in a static pool or an active exemption, pass",
                  "source-prefix-list", f"op25b-exempt-{sfx}", policy.exempt[family], [f"count exempt-{sfx};", "accept;"])
    log = ["log;"] if policy.offenders_size else []  # `show firewall log` lists the sources: our offenders
    for pool in policy.dynamic:
        if pool.mode == "off":
            terms.append(f"# dynamic pool {pool.name}: mode off, so no term (its traffic reaches term default)")
            continue
        if pool.mode == "enforce":
            why = f"mode enforce, block ({policy.action})"
            actions = [f"count {pool.name}-blocked-{sfx};", *log, ACTION[policy.action]]
        else:
            why = "mode monitor, count as would-block and pass"
            actions = [f"count {pool.name}-would-block-{sfx};", *log, "accept;"]
        terms += term(f"dynamic-{pool.name}", f"dynamic pool {pool.name}", why, "source-prefix-list",
                      f"op25b-dynamic-{pool.name}-{sfx}", pool.sets[family], actions)
    for port in policy.submission_ports:  # one term per port: the kernel counts each port apart
        terms += _term(f"submission-{port}", f"submission port {port}: never blocked, counted",
                       [TCP[family], _ports((port,))], [f"count submission-{port}-{sfx};", "accept;"])
    terms += ["term default {", f"{INDENT}then accept;", "}"]
    return lists, terms


def _term(name: str, note: str, matches: list[str], actions: list[str]) -> list[str]:
    # /* */ comments become annotations on the router, so `show` still explains each term.
    return [f"/* {note} */", f"term {name} {{", *_indent(["from {", *_indent(matches), "}",
                                                          "then {", *_indent(actions), "}"]), "}"]


def _list_match(keyword: str, name: str) -> list[str]:
    return [f"{keyword} {{", f"{INDENT}{name};", "}"]


def _ports(ports: tuple[int, ...]) -> str:
    if len(ports) == 1:
        return f"destination-port {ports[0]};"
    return f"destination-port [ {' '.join(str(p) for p in ports)} ];"


def _indent(lines: list[str]) -> list[str]:
    return [f"{INDENT}{line}" for line in lines]


def _header(policy: Policy) -> list[str]:
    where = (f"on the units that carry subscriber_interfaces ({', '.join(policy.subscriber_interfaces)};"
             " those are Linux names: map each to its Junos unit or PPPoE dynamic profile)"
             if policy.subscriber_interfaces else
             "on every subscriber-facing unit (subscriber_interfaces is empty: all forwarded traffic is inspected)")
    lines = [
        "# OP25B filters for Junos, generated by `op25b render --vendor junos`.",
        "# Edit the op25b configuration, not this file.",
        "# Load: configure; load replace terminal (paste, then Ctrl-D); commit check; commit.",
        "# The replace: tags swap each filter and prefix-list whole, so no stale entry survives.",
        "# Apply: a filter cannot match the interface it arrived on, so apply both as input filters",
        f"# {where}:",
        "#   set interfaces IFD unit N family inet filter input OP25B-V4",
        "#   set interfaces IFD unit N family inet6 filter input OP25B-V6",
        "# Counters: show firewall filter OP25B-V4 (and OP25B-V6).",
    ]
    if policy.offenders_size and policy.kernel_pools:
        lines.append("# Offenders: pool terms `log`, so show firewall log lists the sources that hit them.")
    return lines


PLATFORM = Platform(NAME, "Juniper Junos firewall filters OP25B-V4/OP25B-V6 with prefix-lists (load replace)",
                    SUPPORTED, render)
