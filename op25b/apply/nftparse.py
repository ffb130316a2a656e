"""Parse `nft list table inet T` output back into a Ruleset, so `plan` can diff it with ours.

Only the shapes op25b writes need to be understood; anything else in our table (a rule someone
added by hand) is kept verbatim as a rule string, so it shows up as drift instead of vanishing.
"""

from __future__ import annotations

import re

from ..addresses import Family, merge, parse_address, parse_prefix
from ..ruleset import ChainSpec, Ruleset, SetSpec

_PRIORITY_BASE = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100}
_PRIORITY_RE = re.compile(r"priority ([a-z]+)?\s*(?:([+-])\s*)?(-?\d+)?;")
_DURATION = re.compile(r"(\d+)([dhms])")
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def normalise_hook(line: str) -> str:
    """`priority filter - 10;` and `priority -10;` mean the same; keep the numeric form."""
    def numeric(match: re.Match) -> str:
        base, sign, number = match.groups()
        value = _PRIORITY_BASE.get(base, 0) if base else 0
        if number:
            value = value + int(number) if sign != "-" else value - int(number)
        return f"priority {value};"

    return _PRIORITY_RE.sub(numeric, line.strip())


def parse_table(text: str, table: str) -> Ruleset:
    counters: list[str] = []
    counter_values: dict[str, tuple[int, int]] = {}
    sets: list[SetSpec] = []
    chains: list[ChainSpec] = []
    lines = iter(text.splitlines())
    for line in lines:
        words = line.split()
        if len(words) >= 3 and words[0] in ("counter", "set", "chain") and words[-1] == "{":
            body = _block(lines)
            if words[0] == "counter":
                counters.append(words[1])
                numbers = re.findall(r"packets (\d+) bytes (\d+)", " ".join(body))
                if numbers:
                    counter_values[words[1]] = (int(numbers[0][0]), int(numbers[0][1]))
            elif words[0] == "set":
                sets.append(_set(words[1], body))
            else:
                chains.append(_chain(words[1], body))
    return Ruleset(table, tuple(counters), tuple(sets), tuple(chains), counter_values)


def _block(lines) -> list[str]:
    body = []
    for line in lines:
        if line.strip() == "}":
            return body
        body.append(line.strip())
    return body


def _set(name: str, body: list[str]) -> SetSpec:
    text = " ".join(body)
    family: Family = "ipv6" if "ipv6_addr" in text else "ipv4"
    dynamic = "dynamic" in re.findall(r"flags ([a-z,]+)", text)[0].split(",") if "flags" in text else False
    size = re.search(r"\bsize (\d+)", text)
    timeout = re.search(r"\btimeout ((?:\d+[dhms])+)", text.split("elements")[0])
    if dynamic:
        seconds = sum(int(n) * _UNITS[u] for n, u in _DURATION.findall(timeout.group(1))) if timeout else None
        return SetSpec(name, family, "dynamic", (), int(size.group(1)) if size else None, seconds)
    elements = []
    if "elements = {" in text:
        inside = text.split("elements = {", 1)[1].rsplit("}", 1)[0]
        for item in inside.split(","):
            item = item.strip()
            if not item:
                continue
            if "-" in item and "/" not in item:
                low, high = item.split("-")
                elements.append((parse_address(low.strip())[1], parse_address(high.strip())[1]))
            else:
                prefix = parse_prefix(item)
                elements.append((prefix.start, prefix.end))
    return SetSpec(name, family, "interval", tuple(merge(elements)))


def _chain(name: str, body: list[str]) -> ChainSpec:
    hook = None
    rules = []
    for line in body:
        if line.startswith("type ") and " hook " in line:
            hook = normalise_hook(line)
        elif line:
            rules.append(line)
    return ChainSpec(name, tuple(rules), hook)
