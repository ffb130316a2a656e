"""A pool source: a text file with one prefix per line; `#` starts a comment."""

from __future__ import annotations

from pathlib import Path

from ..addresses import Prefix, fast_prefix, parse_prefix
from ..errors import ConfigError, ConfigErrors, Where

MAX_REPORTED = 20  # a broken export can hold 100k bad lines; the first ones tell the story


def load_prefixes_file(path: Path) -> list[Prefix]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(Where(str(path)), f"cannot read the prefixes file: {reason}",
                          "prefixes_file is relative to the configuration file's folder") from None
    out: list[Prefix] = []
    errors: list[ConfigError] = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.partition("#")[0].strip() if "#" in line else line.strip()
        if not entry:
            continue
        prefix = fast_prefix(entry)
        if prefix is not None:
            out.append(prefix)
            continue
        try:  # the slow path only for what the fast one declined: exact error messages
            out.append(parse_prefix(entry))
        except ValueError as exc:
            if len(errors) < MAX_REPORTED:
                errors.append(ConfigError(Where(str(path), "", number), str(exc)))
    if errors:
        raise ConfigErrors(errors)
    return out
