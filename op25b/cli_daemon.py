"""CLI commands of the controller: run (the daemon), restore (boot-time load) and top (offenders)."""

from __future__ import annotations

import json
import sys

from .errors import KernelError, StateError
from .state import DEFAULT_STATE_DIR

EXIT_OK, EXIT_ERROR = 0, 2


def register(sub, command) -> None:
    """Add the controller's subcommands; `command(name, func, help)` adds one with -c/--config."""
    run = command("run", cmd_run, "run the reconcile loop and the metrics endpoint (the systemd service)")
    run.add_argument("--state-dir", help="where the last-known-good ruleset is written (default: state_dir "
                                         f"from the configuration, {DEFAULT_STATE_DIR})")
    run.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    # restore reads neither the configuration nor any source: it runs before the network is up.
    restore = sub.add_parser("restore", help="load the last applied ruleset (boot, before the network is up)",
                             description="Load the ruleset op25b last applied, from the state directory, "
                                         "without reading the configuration or any source.")
    restore.add_argument("--state-dir", default=DEFAULT_STATE_DIR, help=f"default {DEFAULT_STATE_DIR}")
    restore.set_defaults(func=cmd_restore)
    top = command("top", cmd_top, "list the sources that keep trying port 25 (kernel's offender sets)")
    top.add_argument("-n", type=int, default=20, dest="limit", help="how many to show (default 20)")
    top.add_argument("--json", action="store_true", help="print JSON instead of a table")
    top.add_argument("--table", help="read this table without reading the configuration (no pool column)")


def cmd_run(args) -> int:
    import signal

    # Until the loop installs its handlers, a reload request must not kill the process (SIGHUP's
    # default); the configuration is read after this point anyway.
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    import logging

    from prometheus_client import disable_created_metrics

    from .apply.kernel import KernelApplier
    from .daemon import Daemon, setup_logging

    setup_logging(getattr(logging, args.log_level.upper()))
    disable_created_metrics()  # the *_created series only double the series count
    return Daemon(args.config, KernelApplier(), state_dir=args.state_dir).run()


def cmd_restore(args) -> int:
    from . import state
    from .apply.kernel import KernelApplier

    saved = state.load(args.state_dir)
    if saved is None:
        print(f"nothing to restore: no last-known-good state in {args.state_dir} yet "
              "(op25b run writes it after its first successful apply)")
        return EXIT_OK
    applier = KernelApplier()
    if applier.inventory(saved.table).table_exists:
        print(f"table inet {saved.table} is already loaded; left as it is (op25b run reconciles it)")
        return EXIT_OK
    try:
        applier.load(saved.script)
    except KernelError as exc:
        raise StateError(f"the kernel refused the last-known-good state {saved.path}: {exc}") from None
    print(f"restored table inet {saved.table} from {saved.path} (applied {saved.applied_at}, "
          f"configuration sha256 {saved.config_sha256[:12] or 'unknown'})")
    return EXIT_OK


def cmd_top(args) -> int:
    from .offenders import format_table, read_offenders

    config = None
    if args.table is None:
        from .config import load_config

        config = load_config(args.config)
    rows, total = read_offenders(args.table or config.table, config, args.limit)
    if args.json:
        print(json.dumps([row.as_dict() for row in rows], indent=2))
    else:
        sys.stdout.write(format_table(rows, total, args.table or config.table))
    return EXIT_OK
