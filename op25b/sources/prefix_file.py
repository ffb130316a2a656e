"""A pool source: a text file with one prefix per line; `#` starts a comment.

Returns per-family merged Intervals (packed), not Prefix objects: a pool file can hold 100k+ lines,
and an object per line costs both time and memory the policy never needs. A clean file (ASCII,
one `address/length` per line, no comments or spaces: what an IPAM export writes) is parsed
with C-level map() calls, ~1 µs a line; anything else, or any line the fast path rejects, goes
through the line-by-line parser, which gives each bad line its exact error.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from itertools import compress, repeat
from operator import add, and_, not_
from pathlib import Path
from socket import inet_pton

from ..addresses import Family, Interval, fast_prefix, merge, parse_prefix
from ..errors import ConfigError, ConfigErrors, Where
from ..intervals import Intervals
from .cache import SourceCache

MAX_REPORTED = 20  # a broken export can hold 100k bad lines; the first ones tell the story
FileIntervals = dict[Family, list[Interval]]
_AF = {"ipv4": (socket.AF_INET, 32), "ipv6": (socket.AF_INET6, 128)}
_HOST_MASKS = {family: [(1 << (bits - length)) - 1 for length in range(bits + 1)] for family, (_, bits) in _AF.items()}


@dataclass(frozen=True)
class PoolFile:
    intervals: dict  # family → Intervals, merged
    counts: tuple[int, int]  # IPv4 and IPv6 prefixes as written


def load_prefixes_file(path: Path, cache: SourceCache | None = None) -> PoolFile:
    data = read_source(path, "prefixes")
    if cache is not None:
        return cache.parse(path, data, lambda: parse_prefixes(path, data))
    return parse_prefixes(path, data)


def parse_prefixes(path: Path, data: bytes) -> PoolFile:
    text = decode_source(path, data, "prefixes")
    raw = _fast(text) or _line_by_line(path, text)
    counts = (len(raw["ipv4"]), len(raw["ipv6"]))
    return PoolFile({family: Intervals.pack(family, merge(raw.pop(family))) for family in ("ipv4", "ipv6")}, counts)


def read_source(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(Where(str(path)), f"cannot read the {what} file: {exc.strerror}",
                          f"{what}_file is relative to the configuration file's folder") from None


def decode_source(path: Path, data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(Where(str(path)), f"cannot read the {what} file: {exc}",
                          "save it as UTF-8 text") from None


def _fast(text: str) -> FileIntervals | None:
    """All lines at C speed, or None when any line needs the careful parser."""
    if not text.isascii() or "#" in text or " " in text or "\t" in text or "\r" in text or "\n\n" in text:
        return None
    body = text.strip("\n")
    if not body:
        return {"ipv4": [], "ipv6": []}
    if body.count("/") != body.count("\n") + 1:
        return None  # a bare address or a line with two slashes
    fields = body.replace("/", "\n").split("\n")  # address, length, address, length, ...
    addresses, lengths = fields[0::2], fields[1::2]
    del fields
    is_v6 = [":" in address for address in addresses]
    out: FileIntervals = {}
    for family, selector in (("ipv4", list(map(not_, is_v6))), ("ipv6", is_v6)):
        af, bits = _AF[family]
        family_lengths = list(compress(lengths, selector))
        if not all(map(str.isdigit, family_lengths)):
            return None
        try:
            starts = list(map(int.from_bytes, map(inet_pton, repeat(af), compress(addresses, selector)),
                              repeat("big")))
        except OSError:
            return None
        numbers = list(map(int, family_lengths))
        if numbers and max(numbers) > bits:
            return None
        masks = list(map(_HOST_MASKS[family].__getitem__, numbers))
        if any(map(and_, starts, masks)):
            return None  # host bits set
        out[family] = list(zip(starts, map(add, starts, masks), strict=True))
    return out


def _line_by_line(path: Path, text: str) -> FileIntervals:
    out: FileIntervals = {"ipv4": [], "ipv6": []}
    errors: list[ConfigError] = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.partition("#")[0].strip() if "#" in line else line.strip()
        if not entry:
            continue
        prefix = fast_prefix(entry)
        if prefix is None:
            try:  # the slow path only for what the fast one declined: exact error messages
                prefix = parse_prefix(entry)
            except ValueError as exc:
                if len(errors) < MAX_REPORTED:
                    errors.append(ConfigError(Where(str(path), "", number), str(exc)))
                continue
        out[prefix.family].append((prefix.start, prefix.end))
    if errors:
        raise ConfigErrors(errors)
    return out
