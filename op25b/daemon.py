"""The loop behind `op25b run`: a reconcile pass on start, on SIGHUP and every reconcile_interval.

A pass compiles the configuration in effect, compares it with the kernel and applies only when
they differ. The netlink generation id (bumped by every nftables commit in the namespace) makes
the common case cheap: unchanged since our last look means no `nft list`. Errors back off (1, 2,
4 … s, at most the interval); an invalid configuration on reload is refused and the kernel keeps
the last good rules. SIGTERM leaves the rules in place unless `on_stop: remove`. Every event is
one log line; nothing is logged per packet or per quiet pass.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from collections.abc import Callable

from . import state
from .apply.base import Applier
from .diff import diff
from .errors import Op25bError
from .metrics import DaemonMetrics, snapshot
from .reconcile import Compiled, compile_file, plan
from .ruleset import Ruleset
from .sources.cache import SourceCache

log = logging.getLogger("op25b.daemon")
MAX_LOGGED_CHANGES = 3


class Daemon:
    def __init__(self, config_path: str, applier: Applier, metrics: DaemonMetrics | None = None,
                 state_dir: str | None = None, serve_metrics: bool = True,
                 today: Callable[[], dt.date] = dt.date.today) -> None:
        self.config_path = config_path
        self.applier = applier
        self.metrics = metrics or DaemonMetrics()
        self.state_dir_override = state_dir
        self.serve_metrics = serve_metrics
        self.today = today
        self.compiled: Compiled | None = None
        self.compiled_day: dt.date | None = None
        self.good: Ruleset | None = None  # what the kernel was last seen (or made) to hold
        self.verified_generation: int | None = None  # the generation at which `good` was seen
        self.saved: Ruleset | None = None  # what the state file holds
        self.server = None
        self.errors_in_row = 0
        self._snapshot_of: Compiled | None = None
        self._wake = threading.Event()
        self._reload_requested = False
        self._stop_requested = False
        self._refused_digest: str | None = None  # content seen and tried; reset by a good load
        # Parsed pool and exemption files by content: reloads parse only what changed, and the
        # running policy and a new one share the tuples of every unchanged file (sources/cache.py).
        self.sources = SourceCache()

    @property
    def state_dir(self) -> str:
        if self.state_dir_override:
            return self.state_dir_override
        return self.compiled.config.state_dir if self.compiled else state.DEFAULT_STATE_DIR

    # --- configuration -------------------------------------------------------------------

    def load(self) -> bool:
        """Read and compile the configuration file; on failure keep the previous one."""
        first = self.compiled is None
        try:
            compiled = compile_file(self.config_path, self.today(), self.sources)
            if self.serve_metrics and not first:
                self._restart_metrics(compiled)
        except Exception as exc:  # an unexpected one too: a reload must never take the daemon down
            if not isinstance(exc, Op25bError):
                exc = f"{type(exc).__name__}: {exc} (a bug in op25b; please report it)"
            if first:
                log.error("cannot start: %s", exc)
            else:
                self._refused_digest = self._file_digest()
                self.metrics.reload_errors.inc()
                log.error("reload refused, keeping configuration sha256 %s and the kernel's rules: %s",
                          self.compiled.config.sha256[:12], exc)
            return False
        finally:
            self.sources.sweep()
        for warning in compiled.config.warnings:
            log.warning("%s", warning)
        self._refused_digest = None
        self._use(compiled)
        log.info("configuration %s loaded: sha256 %s, %d pools, table inet %s",
                 self.config_path, compiled.config.sha256[:12], len(compiled.config.pools), compiled.ruleset.table)
        return True

    def _use(self, compiled: Compiled) -> None:
        self.compiled, self.compiled_day = compiled, self.today()
        if self.metrics.kernel.snapshot is None:
            # At start, export the counters of the table we are about to adopt right away.
            self._take_snapshot()

    def _current(self) -> Compiled:
        """The compiled policy for today: exemptions expire at midnight without a reload.

        The configuration in memory is slim (no per-prefix objects), so a new day recompiles from
        the file, like a reload; if that fails, yesterday's policy stays and the error is counted."""
        today = self.today()
        if today != self.compiled_day:
            log.info("new day %s: recompiling for exemption expiry", today)
            if not self.load():
                self.compiled_day = today  # retried on the next reload or file change, not every pass
        return self.compiled

    # --- one pass ------------------------------------------------------------------------

    def reconcile(self) -> str:
        """One pass; returns its result (applied | unchanged | error) and records it."""
        started = time.monotonic()
        try:
            result = self._pass()
            self.errors_in_row = 0
        except Exception as exc:  # counted and retried; the alert on errors tells the operator
            self.errors_in_row += 1
            result = "error"
            if not isinstance(exc, Op25bError):
                exc = f"{type(exc).__name__}: {exc}"
            log.error("reconcile failed (attempt %d), the kernel keeps its rules: %s", self.errors_in_row, exc)
        self.metrics.observe_pass(result, time.monotonic() - started)
        if result != "error" and self._snapshot_of is not self.compiled:
            self._take_snapshot()  # the exporter now labels what the kernel holds
        return result

    def _take_snapshot(self) -> None:
        self.metrics.kernel.snapshot = snapshot(self.compiled.config, self.compiled.policy, self.compiled_day)
        self._snapshot_of = self.compiled

    def _pass(self) -> str:
        compiled = self._current()
        desired = compiled.ruleset
        generation = self.applier.generation()
        known = self.good is not None and generation == self.verified_generation
        if known and desired == self.good:
            self.good = desired  # equal: share one copy instead of keeping both alive
            self._save(compiled)  # normally a no-op; retries a state write that failed
            return "unchanged"
        # The kernel still holds `good` when nothing committed since: diff in memory, skip `nft list`.
        changes = diff(desired, self.good) if known else plan(compiled, self.applier)
        if not changes:
            if self.good is not None and generation != self.verified_generation:
                log.info("nftables changed (generation %d) but table inet %s still matches", generation, desired.table)
            self.good, self.verified_generation = desired, generation
            self._save(compiled)
            return "unchanged"
        drift = self.good is not None and desired == self.good
        started = time.monotonic()
        before = self.applier.generation()
        how = self._commit(desired, known)
        after = self.applier.generation()
        # Exactly one commit since `before` was ours; anything else means another tool was also
        # writing, and the next pass must look at the kernel instead of trusting `good`.
        self.good, self.verified_generation = desired, (after if after == before + 1 else None)
        summary = _summary(changes)
        seconds = time.monotonic() - started
        if drift:
            self.metrics.drift_repairs.inc()
            log.warning("drift repaired in table inet %s (changed by something other than op25b): %s; "
                        "applied in %.2f s", desired.table, summary, seconds)
        else:
            log.info("applied table inet %s: %s; in %.2f s (one atomic transaction, %s)", desired.table, summary,
                     seconds, how)
        self._save(compiled, force=True)
        return "applied"

    def _commit(self, desired: Ruleset, known: bool) -> str:
        """One atomic commit; returns how it was made. When the kernel provably still holds
        `good` (generation unchanged) and only set contents differ, a netlink set-element batch
        does it in milliseconds; otherwise, or if the kernel refuses that batch, a full apply."""
        delta_apply = getattr(self.applier, "apply_delta", None)
        if known and delta_apply is not None:
            try:
                changed = delta_apply(self.good, desired)
                if changed is not None:
                    return f"set delta of {changed} interval(s)"
            except Op25bError as exc:
                log.warning("set delta refused, falling back to a full apply: %s", exc)
        # No `nft -c` dry run first: the commit is one batch the kernel takes whole or not at all,
        # so a dry run would only double the time of every apply (seconds at 100k prefixes).
        self.applier.apply(desired, precheck=False)
        return "full transaction"

    def _save(self, compiled: Compiled, force: bool = False) -> None:
        if not force and self.saved == compiled.ruleset:
            self.saved = compiled.ruleset  # equal: share one copy
            return
        path = state.save(self.state_dir, compiled.ruleset, compiled.config.sha256)
        self.saved = compiled.ruleset
        log.info("last-known-good state written to %s", path)

    # --- the loop ------------------------------------------------------------------------

    def request_reload(self, *_: object) -> None:
        self._reload_requested = True
        self._wake.set()

    def request_stop(self, *_: object) -> None:
        self._stop_requested = True
        self._wake.set()

    def run(self) -> int:
        """Run until SIGTERM/SIGINT. Returns the exit code (2: the configuration never loaded)."""
        signal.signal(signal.SIGHUP, self.request_reload)
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        if not self.load():
            return 2
        if self.serve_metrics:
            try:
                self._restart_metrics(self.compiled)
            except Op25bError as exc:
                log.error("cannot start: %s", exc)
                return 2
        config = self.compiled.config
        log.info("started: table inet %s, reconcile every %gs, on_stop %s, state in %s, metrics %s",
                 config.table, config.reconcile_interval, config.on_stop, self.state_dir,
                 f"{self.server.scheme}://{self.server.address}/metrics" if self.server else "off")
        next_pass = time.monotonic()
        while not self._stop_requested:
            self._wake.wait(max(0.0, next_pass - time.monotonic()))
            self._wake.clear()
            if self._stop_requested:
                break
            if self._reload_requested:
                self._reload_requested = False
                log.info("SIGHUP: reloading %s", self.config_path)
                if not self.load():
                    continue  # keep the schedule; the kernel keeps the last good rules
            elif time.monotonic() < next_pass:
                continue
            elif self._config_file_changed():
                log.info("%s changed on disk: reloading", self.config_path)
                self.load()  # refused like a bad SIGHUP when invalid; the pass below keeps the last good
            result = self.reconcile()
            next_pass = time.monotonic() + self.wait_after(result)
        self.shutdown()
        return 0

    def _config_file_changed(self) -> bool:
        """Each periodic pass looks at the configuration file: a hash of its bytes is cheap, and
        recompiling only on change keeps a 200k-prefix pass from costing seconds of CPU every
        interval. (Pool files named by prefixes_file are re-read on SIGHUP or a config change.)"""
        digest = self._file_digest()
        if digest is None or digest == self._refused_digest:
            return False  # unreadable, or this exact content was already refused and counted
        return digest != self.compiled.config.sha256

    def _file_digest(self) -> str | None:
        import hashlib

        try:
            with open(self.config_path, "rb") as handle:
                return hashlib.sha256(handle.read()).hexdigest()
        except OSError:
            return None

    def wait_after(self, result: str) -> float:
        interval = self.compiled.config.reconcile_interval
        if result != "error":
            return interval
        return min(interval, float(2 ** min(self.errors_in_row - 1, 16)))

    def shutdown(self) -> None:
        config = self.compiled.config
        if config.on_stop == "remove":
            try:
                removed = self.applier.remove(config.table)
                log.info("stopping: table inet %s %s (on_stop: remove)", config.table,
                         "removed" if removed else "was already gone")
            except Op25bError as exc:
                log.error("stopping: could not remove table inet %s: %s", config.table, exc)
        else:
            log.info("stopping: table inet %s left in place (on_stop: keep), port 25 stays blocked", config.table)
        if self.server is not None:
            self.server.stop()
            self.server = None

    def _restart_metrics(self, compiled: Compiled) -> None:
        """(Re)open the endpoint when its settings changed, or to re-read rotated TLS/auth files."""
        from .exporter import MetricsServer

        settings = compiled.config.metrics
        old = self.server
        secured = settings.tls_cert_file or settings.basic_auth_username
        if old is not None and old.settings == settings and not secured:
            return
        if old is not None:
            old.stop()
        try:
            self.server = MetricsServer(settings, self.metrics.registry, compiled.config.path)
        except Op25bError:
            self.server = None
            if old is not None:  # the old endpoint goes back up; the reload is refused
                self.server = MetricsServer(old.settings, self.metrics.registry, self.config_path)
            raise
        if old is None or old.settings != settings:
            log.info("metrics: serving %s://%s/metrics", self.server.scheme, self.server.address)


def _summary(changes: list[str]) -> str:
    shown = "; ".join(line.strip() for line in changes[:MAX_LOGGED_CHANGES])
    more = f"; … {len(changes) - MAX_LOGGED_CHANGES} more" if len(changes) > MAX_LOGGED_CHANGES else ""
    return f"{len(changes)} change(s): {shown}{more}"


class JournalFormatter(logging.Formatter):
    """One line per record. Under systemd (JOURNAL_STREAM set), a `<N>` syslog-priority prefix
    lets journald store the level; on a terminal, a timestamp and the level name instead."""

    PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}

    def __init__(self, journal: bool) -> None:
        super().__init__("%(message)s" if journal else "%(asctime)s %(levelname)s %(message)s")
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        text = " ".join(part.strip() for part in super().format(record).splitlines() if part.strip())
        return f"<{self.PRIORITY.get(record.levelno, 6)}>{text}" if self.journal else text


def setup_logging(level: int = logging.INFO) -> None:
    import os
    import sys

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JournalFormatter(journal=bool(os.environ.get("JOURNAL_STREAM"))))
    root = logging.getLogger("op25b")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
