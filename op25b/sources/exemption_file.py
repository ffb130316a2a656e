"""A source of exemptions: a text file with one exemption per line, for when they number in the
thousands (an abuse desk's or CRM's export), where YAML mappings cost ~25 µs each to parse.

    # prefix              expires      reason (the rest of the line)
    198.51.100.77         -            own MTA, ticket 4411
    2001:db8:3000::/48    2027-03-31   customer relay until the migration

Fields are separated by whitespace. `expires` is `-` (never) or YYYY-MM-DD: the exemption holds
through that day. Blank lines and lines that start with `#` are skipped; a `#` elsewhere belongs
to the reason ("ticket #4411"). Every bad line is reported with its line number.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..addresses import fast_prefix, parse_prefix
from ..errors import ConfigError, ConfigErrors, Where
from .cache import SourceCache
from .prefix_file import decode_source, read_source

MAX_REPORTED = 20
FileExemption = tuple  # (Prefix, reason, expiry date or None)
_HINT = "write each line as: PREFIX EXPIRES REASON, with EXPIRES - or YYYY-MM-DD"


def load_exemptions_file(path: Path, cache: SourceCache | None = None) -> list[FileExemption]:
    data = read_source(path, "exemptions")
    if cache is not None:
        return cache.parse(path, data, lambda: parse_exemptions(path, data))
    return parse_exemptions(path, data)


def parse_exemptions(path: Path, data: bytes) -> list[FileExemption]:
    text = decode_source(path, data, "exemptions")
    out: list[FileExemption] = []
    errors: list[ConfigError] = []
    dates: dict[str, dt.date | None] = {"-": None}  # exports repeat a few expiry dates many times
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split(None, 2)
        if not fields or fields[0].startswith("#"):
            continue
        try:
            if len(fields) < 2:
                raise ValueError("the expiry field is missing (use - for never)")
            prefix = fast_prefix(fields[0]) or parse_prefix(fields[0])
            expires = dates.get(fields[1], dates)
            if expires is dates:
                expires = dates[fields[1]] = _date(fields[1])
            out.append((prefix, fields[2].strip() if len(fields) > 2 else "", expires))
        except ValueError as exc:
            if len(errors) < MAX_REPORTED:
                errors.append(ConfigError(Where(str(path), "", number), str(exc), _HINT))
    if errors:
        raise ConfigErrors(errors)
    return out


def _date(text: str) -> dt.date:
    try:
        if len(text) == 10:  # fromisoformat also takes 20270331 and week dates; keep to one form
            return dt.date.fromisoformat(text)
    except ValueError:
        pass
    raise ValueError(f"{text!r} is not a date; expected YYYY-MM-DD or - for never")
