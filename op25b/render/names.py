"""Every name op25b puts into nft syntax, in one place.

Pool names are validated as [a-z0-9_-]{1,32} (config.NAME_RE) and every generated name starts
with a fixed lowercase word, so no name can be an nft keyword (`fwd` is one) or need quoting.
`safe()` re-checks each name at the point it enters nft text: defence in depth.
"""

from __future__ import annotations

import re

from ..addresses import Family

_NFT_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")
SUFFIX = {"ipv4": "v4", "ipv6": "v6"}
SELECTOR = {"ipv4": "ip", "ipv6": "ip6"}  # the nft payload protocol of each family

# Chains. `forward` is the only base chain (hook forward); the others are jumped to.
FORWARD = "forward"  # base chain: dispatches on tcp dport, one lookup for all traffic
INGRESS = "smtp_ingress"  # only with subscriber_interfaces: iifname filter before smtp
SMTP = "smtp"  # blocked ports: dispatch by family
SUBMISSION = "submission"  # 587/465: count per port and family, never block


def smtp_chain(family: Family) -> str:
    return safe(f"smtp_{SUFFIX[family]}")


# Sets.
def relays_set(family: Family) -> str:
    return safe(f"relays_{SUFFIX[family]}")


def exempt_set(family: Family) -> str:  # static pools + active exemptions
    return safe(f"exempt_{SUFFIX[family]}")


def dynamic_set(pool: str, family: Family) -> str:
    return safe(f"dynamic_{pool}_{SUFFIX[family]}")


def offenders_set(family: Family) -> str:  # dynamic, kernel-filled: top offenders
    return safe(f"offenders_{SUFFIX[family]}")


# Named counters: they outlive rule re-creation, so counts survive every re-apply.
def blocked_counter(pool: str, family: Family) -> str:
    return safe(f"blocked_{pool}_{SUFFIX[family]}")


def would_block_counter(pool: str, family: Family) -> str:
    return safe(f"would_block_{pool}_{SUFFIX[family]}")


def relay_counter(family: Family) -> str:
    return safe(f"relay_{SUFFIX[family]}")


def exempt_counter(family: Family) -> str:
    return safe(f"exempt_{SUFFIX[family]}")


def submission_counter(port: int, family: Family) -> str:
    return safe(f"submission_{int(port)}_{SUFFIX[family]}")


def safe(name: str) -> str:
    if not _NFT_NAME.fullmatch(name):
        raise ValueError(f"refusing to put {name!r} into nft syntax")
    return name
