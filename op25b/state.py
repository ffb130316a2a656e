"""Last-known-good state: the ruleset op25b last applied, kept on disk for `op25b restore`.

One file, `<state_dir>/ruleset.nft`: a comment header with a JSON line (table, checksum, when,
which configuration) and then the nft transaction that builds the table in an empty kernel. It
is a plain nft script, so in an emergency `nft -f` loads it without op25b; `op25b restore`
verifies the checksum first, so a torn or hand-edited file is refused instead of half-trusted.
Written as tmp + fsync + rename (mode 0600): a crash leaves the old file or the new one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import __version__
from .errors import StateError
from .render.nftables import transaction
from .ruleset import Inventory, Ruleset

DEFAULT_STATE_DIR = "/var/lib/op25b"
STATE_FILE = "ruleset.nft"
_MARK = "# op25b-state: "


@dataclass(frozen=True)
class SavedState:
    path: Path
    table: str
    script: str  # the nft transaction for an empty kernel
    applied_at: str  # ISO 8601, UTC
    config_sha256: str


def state_path(state_dir: str | Path) -> Path:
    return Path(state_dir) / STATE_FILE


def save(state_dir: str | Path, ruleset: Ruleset, config_sha256: str = "",
         now: dt.datetime | None = None) -> Path:
    """Write the ruleset atomically. Raises StateError when the directory is not writable."""
    script = transaction(ruleset, Inventory())
    applied_at = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    meta = {"format": 1, "table": ruleset.table, "sha256": _digest(script), "applied_at": applied_at,
            "config_sha256": config_sha256, "op25b": __version__}
    header = ("#!/usr/sbin/nft -f\n"
              "# The ruleset op25b last applied (last-known-good); written by `op25b run`.\n"
              "# Load it with `op25b restore`, which verifies the checksum below first.\n"
              f"{_MARK}{json.dumps(meta, sort_keys=True)}\n")
    path = state_path(state_dir)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_atomically(path, header + script)
    except OSError as exc:
        raise StateError(f"cannot write the last-known-good state {path}: {exc.strerror or exc}") from None
    return path


def _write_atomically(path: Path, text: str) -> None:
    # mkstemp creates the file 0600 in the same directory, so rename() is atomic and the
    # ruleset is never readable by others, not even for a moment.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.rename(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)  # makes the rename itself durable
    finally:
        os.close(directory)


def load(state_dir: str | Path) -> SavedState | None:
    """The saved state, None when there is none yet; StateError when it is corrupt."""
    path = state_path(state_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(f"cannot read the last-known-good state {path}: {getattr(exc, 'strerror', None) or exc}") from None
    header, script = _split(text)
    if header is None:
        raise _corrupt(path, "it has no op25b-state header line")
    try:
        meta = json.loads(header)
        table, digest = meta["table"], meta["sha256"]
    except (ValueError, KeyError, TypeError):
        raise _corrupt(path, "its op25b-state header line is not valid") from None
    if _digest(script) != digest:
        raise _corrupt(path, "its checksum does not match (truncated or edited)")
    return SavedState(path, table, script, meta.get("applied_at", ""), meta.get("config_sha256", ""))


def _split(text: str) -> tuple[str | None, str]:
    lines = text.splitlines(keepends=True)
    for number, line in enumerate(lines):
        if line.startswith(_MARK):
            return line[len(_MARK):].strip(), "".join(lines[number + 1:])
        if not line.startswith("#"):
            break
    return None, text


def _corrupt(path: Path, why: str) -> StateError:
    error = StateError(f"refusing to load the last-known-good state {path}: {why}")
    error.hint = "the running daemon rewrites it after its next apply; `op25b apply -c CONFIG` loads the policy now"
    return error


def _digest(script: str) -> str:
    return hashlib.sha256(script.encode("utf-8")).hexdigest()
