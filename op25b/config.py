"""Stage 1 of the flow: YAML → frozen, validated Config. No I/O beyond reading the file(s).

Every rule of the configuration contract (docs/configuration.md) is checked here, and every
violation is reported with its file, YAML path and line. All errors of one file are collected
and raised together as ConfigErrors, so an operator fixes them in one go.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import yamlnodes
from .addresses import Prefix, fast_prefix, parse_prefix
from .errors import ConfigError, ConfigErrors, Where
from .sources.cache import SourceCache

DEFAULT_PATH = "/etc/op25b/op25b.yaml"
NAME_RE = re.compile(r"[a-z0-9_-]{1,32}")
ACTIONS = ("reject", "drop", "admin-prohibited")
KINDS = ("dynamic", "static")
MODES = ("enforce", "monitor", "off")
ON_STOP = ("keep", "remove")
# RFC 5068 §4.1: an access provider MUST NOT block 587. RFC 8314 makes 465 the implicit-TLS
# submission port, blockable only through the explicit override key.
NEVER_BLOCK = {587: "RFC 5068 §4.1 says access providers MUST NOT block submission (587)"}
OVERRIDABLE = {465: "465 is implicit-TLS submission (RFC 8314)"}
_DURATION_RE = re.compile(r"(\d+)([smhd]?)")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Pool:
    name: str
    kind: str  # dynamic | static
    mode: str  # enforce | monitor | off (static pools: "exempt")
    # Family → Intervals (merged, packed: op25b/intervals.py): the prefixes as written, inline and
    # from prefixes_file, with no object per prefix. The policy shares these; it never copies them.
    intervals: dict
    where: Where
    counts: tuple[int, int] = (0, 0)  # IPv4 and IPv6 prefixes as written


@dataclass(frozen=True)
class Exemption:
    prefix: Prefix
    reason: str
    expires: dt.date | None

    def active(self, today: dt.date) -> bool:
        return self.expires is None or today <= self.expires


@dataclass(frozen=True)
class Metrics:
    listen_host: str = "127.0.0.1"
    listen_port: int = 9025
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    basic_auth_username: str | None = None
    basic_auth_password_file: str | None = None


@dataclass(frozen=True)
class Offenders:
    enabled: bool = True
    size: int = 65536
    timeout_seconds: int = 3600


@dataclass(frozen=True)
class Config:
    path: str
    table: str = "op25b"
    chain_priority: int = -10
    action: str = "reject"
    blocked_ports: tuple[int, ...] = (25,)
    submission_ports: tuple[int, ...] = (587, 465)
    allow_blocking_465: bool = False
    subscriber_interfaces: tuple[str, ...] = ()
    relays: tuple[Prefix, ...] = ()
    relay_wheres: tuple[Where, ...] = ()  # parallel to relays; a relay inside a pool is reported there
    pools: tuple[Pool, ...] = ()
    exemptions: tuple[Exemption, ...] = ()
    reconcile_interval: float = 30.0
    state_dir: str = "/var/lib/op25b"
    on_stop: str = "keep"
    metrics: Metrics = field(default_factory=Metrics)
    offenders: Offenders = field(default_factory=Offenders)
    warnings: tuple[str, ...] = ()
    sha256: str = ""


def load_config(path: str | Path = DEFAULT_PATH, cache: SourceCache | None = None) -> Config:
    """Read and validate a configuration file. Raises ConfigError(s) naming file, path and line."""
    import hashlib

    path = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(Where(path), f"cannot read the configuration: {exc.strerror}",
                          f"pass the right file with -c (default {DEFAULT_PATH})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(Where(path), "the file is not UTF-8 text") from None
    doc = yamlnodes.load(path, text)
    return _Builder(doc, cache).build(hashlib.sha256(raw).hexdigest())


class _Builder:
    """Walks the parsed document once, collecting every error instead of stopping at the first."""

    def __init__(self, doc: yamlnodes.Located, cache: SourceCache | None = None) -> None:
        self.doc = doc
        self.cache = cache
        self.errors: list[ConfigError] = []
        self.warnings: list[str] = []

    def fail(self, path: str, problem: str, hint: str = "") -> None:
        self.errors.append(ConfigError(self.doc.where(path), problem, hint))

    def build(self, sha256: str) -> Config:
        top = self.doc.value
        if top is None:
            top = {}
        if not isinstance(top, dict):
            raise ConfigError(self.doc.where(""), "the configuration must be a YAML mapping",
                              "start from docs/configuration.md or examples/op25b.yaml")
        self._unknown_keys(top, "", _TOP_KEYS)
        defaults = Config(path=self.doc.file)
        values: dict[str, Any] = {}
        values["table"] = self._name(top, "table", defaults.table)
        values["chain_priority"] = self._int(top, "chain_priority", defaults.chain_priority, -400, 400)
        values["action"] = self._choice(top, "action", defaults.action, ACTIONS)
        values["allow_blocking_465"] = self._bool(top, "allow_blocking_465", False)
        values["blocked_ports"] = self._ports(top, "blocked_ports", defaults.blocked_ports)
        values["submission_ports"] = self._ports(top, "submission_ports", defaults.submission_ports)
        self._check_ports(values)
        values["subscriber_interfaces"] = self._interfaces(top)
        values["relays"] = tuple(self._prefix_list(top.get("relays", []), "relays"))
        values["pools"] = self._pools(top.get("pools", []))
        values["exemptions"] = self._exemptions(top.get("exemptions", [])) + self._exemptions_file(top)
        values["reconcile_interval"] = float(self._int(top, "reconcile_interval", 30, 1, 86400))
        values["state_dir"] = self._string(top, "state_dir", defaults.state_dir)
        values["on_stop"] = self._choice(top, "on_stop", defaults.on_stop, ON_STOP)
        values["metrics"] = self._metrics(top.get("metrics", {}))
        values["offenders"] = self._offenders(top.get("offenders", {}))
        values["relay_wheres"] = tuple(self.doc.where(f"relays[{i}]") for i in range(len(values["relays"])))
        if self.errors:
            raise ConfigErrors(self.errors)
        return Config(path=self.doc.file, warnings=tuple(self.warnings), sha256=sha256, **values)

    # --- scalar helpers -------------------------------------------------------------------

    def _unknown_keys(self, mapping: dict, path: str, allowed: tuple[str, ...]) -> None:
        for key in mapping:
            if key not in allowed:
                where = f"{path}.{key}" if path else key
                close = [a for a in allowed if a[:3] == key[:3]]
                hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"
                self.fail(where, f"unknown key {key!r}", hint)

    def _get(self, mapping: dict, key: str, default: Any, path: str = "") -> tuple[Any, str]:
        return mapping.get(key, default), f"{path}.{key}" if path else key

    def _name(self, mapping: dict, key: str, default: str, path: str = "") -> str:
        value, where = self._get(mapping, key, default, path)
        if not isinstance(value, str) or not NAME_RE.fullmatch(value):
            self.fail(where, f"{value!r} is not a valid name; expected 1-32 characters of a-z, 0-9, _ or -")
            return default
        return value

    def _string(self, mapping: dict, key: str, default: str | None, path: str = "") -> Any:
        value, where = self._get(mapping, key, default, path)
        if value is not None and not isinstance(value, str):
            self.fail(where, f"expected a string, got {value!r}")
            return default
        return value

    def _int(self, mapping: dict, key: str, default: int, low: int, high: int, path: str = "") -> int:
        value, where = self._get(mapping, key, default, path)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(where, f"expected a whole number from {low} to {high}, got {value!r}")
            return default
        return value

    def _bool(self, mapping: dict, key: str, default: bool, path: str = "") -> bool:
        value, where = self._get(mapping, key, default, path)
        if not isinstance(value, bool):
            self.fail(where, f"expected true or false, got {value!r}")
            return default
        return value

    def _choice(self, mapping: dict, key: str, default: str, choices: tuple[str, ...], path: str = "") -> str:
        value, where = self._get(mapping, key, default, path)
        if value not in choices:
            self.fail(where, f"{value!r} is not one of: {', '.join(choices)}")
            return default
        return value

    def _list(self, value: Any, path: str) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"expected a list, got {type(value).__name__}")
            return []
        return value

    # --- sections -------------------------------------------------------------------------

    def _ports(self, mapping: dict, key: str, default: tuple[int, ...]) -> tuple[int, ...]:
        ports = []
        for i, port in enumerate(self._list(mapping.get(key, list(default)), key)):
            if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
                self.fail(f"{key}[{i}]", f"{port!r} is not a TCP port; expected 1-65535")
            elif port in ports:
                self.fail(f"{key}[{i}]", f"port {port} is listed twice")
            else:
                ports.append(port)
        return tuple(ports)

    def _check_ports(self, values: dict) -> None:
        blocked, submission = values["blocked_ports"], values["submission_ports"]
        for i, port in enumerate(blocked):
            where = f"blocked_ports[{i}]"
            if port in submission:
                self.fail(where, f"port {port} is both blocked and a submission port",
                          "a port is either blocked or submission; remove it from one list")
            elif port in NEVER_BLOCK:
                self.fail(where, f"port {port} must never be blocked: {NEVER_BLOCK[port]}",
                          "remove it; subscribers need it to send mail through your submission server")
            elif port in OVERRIDABLE and not values["allow_blocking_465"]:
                self.fail(where, f"port {port} must not be blocked: {OVERRIDABLE[port]}",
                          "remove it, or set allow_blocking_465: true if you really mean it")
            elif port in OVERRIDABLE:
                self.warnings.append(f"warning: blocking port {port} although {OVERRIDABLE[port]} "
                                     "(allow_blocking_465 is true)")

    def _interfaces(self, top: dict) -> tuple[str, ...]:
        patterns = []
        for i, pattern in enumerate(self._list(top.get("subscriber_interfaces", []), "subscriber_interfaces")):
            # iifname patterns go into nft syntax: allow only interface characters and a trailing *.
            if not isinstance(pattern, str) or not re.fullmatch(r"[A-Za-z0-9_.:-]{1,15}\*?", pattern):
                self.fail(f"subscriber_interfaces[{i}]", f"{pattern!r} is not an interface name or pattern",
                          "use names such as ppp0 or patterns such as \"ppp*\" (max 15 characters)")
            else:
                patterns.append(pattern)
        return tuple(patterns)

    def _prefix_list(self, items: Any, path: str) -> list[Prefix]:
        out = []
        for i, text in enumerate(self._list(items, path)):
            prefix = fast_prefix(text) if isinstance(text, str) else None
            if prefix is not None:  # well-formed: skip the careful parser and its exceptions
                out.append(prefix)
                continue
            try:
                out.append(parse_prefix(text))
            except ValueError as exc:
                self.fail(f"{path}[{i}]", str(exc), "write prefixes like 198.51.100.0/24 or 2001:db8::/32")
        return out

    def _one_prefix(self, text: Any, path: str) -> list[Prefix]:
        try:
            return [parse_prefix(text)]
        except ValueError as exc:
            self.fail(path, str(exc), "write prefixes like 198.51.100.0/24 or 2001:db8::/32")
            return []

    def _pools(self, items: Any) -> tuple[Pool, ...]:
        from . import pools as pools_algebra
        from .sources import load_prefixes_file

        pools: list[Pool] = []
        seen: set[str] = set()
        for i, item in enumerate(self._list(items, "pools")):
            path = f"pools[{i}]"
            if not isinstance(item, dict):
                self.fail(path, "each pool must be a mapping with name, kind, mode and prefixes")
                continue
            self._unknown_keys(item, path, _POOL_KEYS)
            if "name" not in item:
                self.fail(path, "the pool has no name")
            name = self._name(item, "name", f"pool{i}", path)
            if name in seen:
                self.fail(f"{path}.name", f"pool name {name!r} is used twice", "pool names must be unique")
            seen.add(name)
            if "kind" not in item:
                self.fail(path, "the pool has no kind", "set kind: dynamic or kind: static")
            kind = self._choice(item, "kind", "dynamic", KINDS, path)
            mode = self._pool_mode(item, path, kind)
            inline = self._prefix_list(item.get("prefixes", []), f"{path}.prefixes")
            merged = pools_algebra.by_family(inline)
            counts = (sum(1 for p in inline if p.family == "ipv4"), sum(1 for p in inline if p.family == "ipv6"))
            file = self._string(item, "prefixes_file", None, path)
            if file is not None:
                base = Path(self.doc.file).parent
                try:
                    loaded = load_prefixes_file(base / file, self.cache)
                    # The file's packed sets are shared as they are (the cache hands the same
                    # ones to the next reload); only a pool that also lists prefixes inline merges.
                    merged = pools_algebra.union([loaded.intervals, merged]) if inline else loaded.intervals
                    counts = (counts[0] + loaded.counts[0], counts[1] + loaded.counts[1])
                except ConfigError as exc:
                    self.errors.append(exc)
            if not any(counts):
                self.warnings.append(f"warning: {self.doc.where(path)}: pool {name!r} has no prefixes")
            pools.append(Pool(name, kind, mode, merged, self.doc.where(path), counts))
        return tuple(pools)

    def _pool_mode(self, item: dict, path: str, kind: str) -> str:
        if kind == "static":
            if "mode" in item:
                self.fail(f"{path}.mode", "static pools have no mode; they are always exempt",
                          "remove mode, or make the pool dynamic")
            return "exempt"
        mode = item.get("mode", "enforce")
        if mode is False:  # YAML 1.1 reads a bare `off` as false
            mode = "off"
        if mode not in MODES:
            self.fail(f"{path}.mode", f"{mode!r} is not one of: {', '.join(MODES)}",
                      "use monitor to count would-block traffic before you enforce")
            return "off"
        return mode

    def _exemptions(self, items: Any) -> tuple[Exemption, ...]:
        out = []
        for i, item in enumerate(self._list(items, "exemptions")):
            path = f"exemptions[{i}]"
            if not isinstance(item, dict) or "prefix" not in item:
                self.fail(path, "each exemption needs a prefix (and a reason)")
                continue
            self._unknown_keys(item, path, ("prefix", "reason", "expires"))
            prefixes = self._one_prefix(item["prefix"], f"{path}.prefix")
            reason = self._string(item, "reason", "", path) or ""
            expires = item.get("expires")
            if expires is not None and not isinstance(expires, dt.date):
                self.fail(f"{path}.expires", f"{expires!r} is not a date", "write it as YYYY-MM-DD")
                expires = None
            if isinstance(expires, dt.datetime):
                expires = expires.date()
            if prefixes:
                out.append(Exemption(prefixes[0], reason, expires))
        return tuple(out)

    def _exemptions_file(self, top: dict) -> tuple[Exemption, ...]:
        from .sources import load_exemptions_file

        file = self._string(top, "exemptions_file", None, "")
        if file is None:
            return ()
        try:
            loaded = load_exemptions_file(Path(self.doc.file).parent / file, self.cache)
        except ConfigError as exc:
            self.errors.append(exc)
            return ()
        return tuple(Exemption(prefix, reason, expires) for prefix, reason, expires in loaded)

    def _metrics(self, section: Any) -> Metrics:
        if not isinstance(section, dict):
            self.fail("metrics", "expected a mapping")
            return Metrics()
        self._unknown_keys(section, "metrics", _METRICS_KEYS)
        listen = self._string(section, "listen", "127.0.0.1:9025", "metrics") or "127.0.0.1:9025"
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
            self.fail("metrics.listen", f"{listen!r} is not HOST:PORT", "for example 127.0.0.1:9025 or [::1]:9025")
            host, port = "127.0.0.1", "9025"
        auth = section.get("basic_auth") or {}
        if not isinstance(auth, dict):
            self.fail("metrics.basic_auth", "expected a mapping with username and password_file")
            auth = {}
        self._unknown_keys(auth, "metrics.basic_auth", ("username", "password_file"))
        if bool(auth.get("username")) != bool(auth.get("password_file")):
            self.fail("metrics.basic_auth", "basic auth needs both username and password_file",
                      "set both, or remove basic_auth")
        if bool(section.get("tls_cert_file")) != bool(section.get("tls_key_file")):
            self.fail("metrics", "TLS needs both tls_cert_file and tls_key_file", "set both, or neither")
        return Metrics(
            listen_host=host.strip("[]"),
            listen_port=int(port),
            tls_cert_file=self._string(section, "tls_cert_file", None, "metrics"),
            tls_key_file=self._string(section, "tls_key_file", None, "metrics"),
            basic_auth_username=auth.get("username") if isinstance(auth, dict) else None,
            basic_auth_password_file=auth.get("password_file") if isinstance(auth, dict) else None,
        )

    def _offenders(self, section: Any) -> Offenders:
        if not isinstance(section, dict):
            self.fail("offenders", "expected a mapping")
            return Offenders()
        self._unknown_keys(section, "offenders", ("enabled", "size", "timeout"))
        timeout = section.get("timeout", "1h")
        match = _DURATION_RE.fullmatch(str(timeout))
        if not match or isinstance(timeout, bool):
            self.fail("offenders.timeout", f"{timeout!r} is not a duration", "write it like 3600, 30m, 1h or 1d")
            seconds = 3600
        else:
            seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        return Offenders(
            enabled=self._bool(section, "enabled", True, "offenders"),
            size=self._int(section, "size", 65536, 1, 4_194_304, "offenders"),
            timeout_seconds=seconds,
        )


_TOP_KEYS = ("table", "chain_priority", "action", "blocked_ports", "submission_ports",
             "allow_blocking_465", "subscriber_interfaces", "relays", "pools", "exemptions", "exemptions_file",
             "reconcile_interval", "state_dir", "on_stop", "metrics", "offenders")
_POOL_KEYS = ("name", "kind", "mode", "prefixes", "prefixes_file", "description")
_METRICS_KEYS = ("listen", "tls_cert_file", "tls_key_file", "basic_auth")

