"""Thin command line: parse arguments, call the stages, map errors to exit codes.

Exit codes (like black): 0 success / no change, 1 `plan` found changes pending, 2 error.
Errors print as operator sentences on stderr, never as tracebacks.
"""

from __future__ import annotations

import argparse
import json
import sys

from . import __version__
from .config import DEFAULT_PATH
from .errors import Op25bError

EXIT_OK, EXIT_CHANGES, EXIT_ERROR = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_ERROR
    try:
        return args.func(args)
    except Op25bError as exc:
        text = str(exc)
        print(text if text.startswith("error:") else f"error: {text}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="op25b", description="Outbound Port 25 Blocking for Linux edge routers.")
    parser.add_argument("--version", action="version", version=f"op25b {__version__}")
    sub = parser.add_subparsers(metavar="COMMAND")

    def command(name: str, func, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("-c", "--config", default=DEFAULT_PATH, help=f"configuration file (default {DEFAULT_PATH})")
        p.set_defaults(func=func)
        return p

    command("check", cmd_check, "validate the configuration and summarise pools, prefixes and overlaps")
    render = command("render", cmd_render, "print the nftables ruleset (no kernel access)")
    render.add_argument("--transaction", action="store_true",
                        help="print the atomic transaction apply would send to an empty kernel")
    render.add_argument("--vendor", help="render a vendor ACL instead (see --vendor list)")
    command("plan", cmd_plan, "show what apply would change in the kernel (exit 1 when changes are pending)")
    apply = command("apply", cmd_apply, "apply the policy as one atomic nftables transaction")
    apply.add_argument("--dry-run", action="store_true",
                       help="send the transaction for the kernel to validate, then abort it: nothing changes")
    explain = command("explain", cmd_explain, "explain the verdict for a source address")
    explain.add_argument("address", help="source address of the subscriber")
    explain.add_argument("--port", type=int, default=25, help="TCP destination port (default 25)")
    explain.add_argument("--to", dest="destination", help="destination address (relays are never blocked)")
    explain.add_argument("--iif", dest="interface", help="ingress interface, when subscriber_interfaces is set")
    explain.add_argument("--json", action="store_true", help="print the verdict as JSON")
    command("remove", cmd_remove, "delete op25b's table (and nothing else)")
    stats = command("stats", cmd_stats, "print op25b's kernel counters (read through netlink)")
    stats.add_argument("--json", action="store_true")
    lab = sub.add_parser("lab", help="demo: build a network-namespace lab and show OP25B at work")
    lab.add_argument("--action", default="reject", choices=("reject", "drop", "admin-prohibited"))
    lab.set_defaults(func=cmd_lab)
    from .cli_daemon import register

    register(sub, command)  # run, restore, top: the controller's commands
    return parser


LARGE = 10_000  # prefixes; above this, long steps report progress on stderr


class _Progress:
    """Step lines on stderr for long work (large pools) or an interactive terminal."""

    def __init__(self) -> None:
        import time

        self._clock = time.monotonic
        self._started = self._clock()
        self.enabled = sys.stderr.isatty()

    def step(self, text: str) -> None:
        if self.enabled:
            print(f"op25b: [{self._clock() - self._started:5.1f}s] {text}", file=sys.stderr, flush=True)


def _compile(args, progress: _Progress | None = None):
    from .reconcile import compile_file

    compiled = compile_file(args.config)
    for warning in compiled.config.warnings:
        print(warning, file=sys.stderr)
    if progress is not None:
        prefixes = sum(sum(p.counts) for p in compiled.config.pools) + len(compiled.config.exemptions)
        progress.enabled = progress.enabled or prefixes >= LARGE
        intervals = sum(len(s.elements) for s in compiled.ruleset.sets)
        progress.step(f"compiled {args.config}: {prefixes} prefixes → {intervals} merged intervals")
    return compiled


def cmd_check(args) -> int:
    from .report import summary

    compiled = _compile(args)
    print(summary(compiled))
    return EXIT_OK


def cmd_render(args) -> int:
    from .render.nftables import ruleset_text, transaction
    from .ruleset import Inventory

    if args.vendor == "list":  # needs no configuration
        from .render.vendor import platform_list

        sys.stdout.write(platform_list())
        return EXIT_OK
    compiled = _compile(args)
    if args.vendor:
        from .render.vendor import render_vendor

        sys.stdout.write(render_vendor(args.vendor, compiled.policy))
    elif args.transaction:
        sys.stdout.write(transaction(compiled.ruleset, Inventory()))
    else:
        sys.stdout.write(ruleset_text(compiled.ruleset))
    return EXIT_OK


def _kernel():
    from .apply.kernel import KernelApplier

    return KernelApplier()


def cmd_plan(args) -> int:
    from .reconcile import plan

    progress = _Progress()
    compiled = _compile(args, progress)
    progress.step(f"reading table inet {compiled.ruleset.table} from the kernel (nft list; slow for large sets)")
    changes = plan(compiled, _kernel())
    progress.step("compared")
    if not changes:
        print(f"table inet {compiled.ruleset.table}: the kernel already matches {args.config}")
        return EXIT_OK
    print(f"table inet {compiled.ruleset.table}: {len(changes)} change(s) pending")
    for line in changes:
        print(f"  {line}")
    return EXIT_CHANGES


def cmd_apply(args) -> int:
    from .reconcile import apply

    progress = _Progress()
    compiled = _compile(args, progress)
    sets = sum(len(s.elements) for s in compiled.ruleset.sets)
    if args.dry_run:
        progress.step("sending the transaction as a dry run (the kernel validates it, then aborts it)")
        kernel = _kernel()
        kernel.check(compiled.ruleset)
        print(f"dry run: the kernel accepts table inet {compiled.ruleset.table} ({len(compiled.ruleset.sets)} sets, "
              f"{sets} intervals); nothing was changed")
        return EXIT_OK
    progress.step("sending one atomic transaction")
    result = apply(compiled, _kernel())
    print(f"applied table inet {compiled.ruleset.table}: {len(compiled.ruleset.sets)} sets, "
          f"{sets} intervals, in {result.seconds:.2f} s (one atomic transaction)")
    return EXIT_OK


def cmd_explain(args) -> int:
    from .policy import verdict

    compiled = _compile(args)
    try:
        result = verdict(compiled.policy, args.address, args.port, args.destination, args.interface)
    except ValueError as exc:
        raise Op25bError(f"{exc}; give an IPv4 or IPv6 address such as 198.51.100.10") from None
    if args.json:
        print(json.dumps({"address": args.address, "port": args.port, "destination": args.destination,
                          "action": result.action, "pool": result.pool, "reason": result.reason}))
    else:
        action = {"blocked": f"BLOCKED ({compiled.policy.action})", "would-block": "WOULD BLOCK (monitor)",
                  "pass": "PASS"}[result.action]
        destination = args.destination or "the Internet"
        print(f"{args.address} → {destination} port {args.port}: {action}")
        print(f"  because {result.reason}")
    return EXIT_OK


def cmd_stats(args) -> int:
    from .config import load_config

    table = load_config(args.config).table
    counters = _kernel().counters(table)
    if not counters:
        raise Op25bError(f"table inet {table} has no counters in this kernel; run op25b apply first")
    if args.json:
        print(json.dumps({name: {"packets": p, "bytes": b} for name, (p, b) in sorted(counters.items())}))
        return EXIT_OK
    width = max(len(name) for name in counters)
    print(f"{'counter':<{width}}  {'packets':>10}  {'bytes':>12}")
    for name, (packets, size) in sorted(counters.items()):
        print(f"{name:<{width}}  {packets:>10}  {size:>12}")
    return EXIT_OK


def cmd_lab(args) -> int:
    from .lab.demo import run_demo

    return run_demo(action=args.action)


def cmd_remove(args) -> int:
    from .config import load_config

    table = load_config(args.config).table
    removed = _kernel().remove(table)
    print(f"removed table inet {table}" if removed else f"table inet {table} was not there; nothing to do")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
