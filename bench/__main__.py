"""`python -m bench run [--sizes ...] [--repeats K] [--only P1,P3] [--out DIR]` measures;
`python -m bench plot [--results DIR] [--out DIR]` draws PNGs from the results files;
`python -m bench table [--results DIR]` prints them as markdown tables."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from .common import REPO, log, require_root

METRICS = ("P1", "P2", "P3", "P4", "P5", "SIGHUP")
DEFAULT_SIZES = "1000,10000,100000"  # add 300000 on purpose: it alone takes ~15 min
REPEATS = {1000: 7, 10000: 5, 100000: 3, 300000: 3}  # fewer where one sample takes seconds
RESULTS = REPO / "bench" / "results"


def _module(metric: str):
    from . import p1_reconcile, p2_scrape, p3_delta, p4_forwarding, p5_memory, sighup

    return {"P1": p1_reconcile, "P2": p2_scrape, "P3": p3_delta, "P4": p4_forwarding,
            "P5": p5_memory, "SIGHUP": sighup}[metric]


def cmd_run(args) -> int:
    require_root()
    from . import hardware, shapes

    sizes = [int(s) for s in args.sizes.split(",")]
    metrics = [m.strip().upper() for m in args.only.split(",")] if args.only else list(METRICS)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = hardware.describe() | {"sizes": sizes}
    # Rows of other sizes already in --out stay: `--sizes 300000` adds to a default run's files.
    collected = {m: _kept(out / f"{m}.json", sizes) for m in metrics}
    work = Path(tempfile.mkdtemp(prefix="op25b-bench-"))
    try:
        for size in sizes:
            log(f"generating {size} prefixes per family")
            shape = shapes.generate(size, work / str(size))
            repeats = args.repeats or REPEATS.get(size, 3)
            for metric in metrics:
                log(f"{metric} at {size} ({repeats} repeats)")
                rows = _module(metric).measure(shape, repeats)
                for r in rows:
                    log(f"  {r['variant']}: ours {r['ours']:.4g} {r['unit']}, baseline {r['baseline']:.4g}, "
                        f"ratio {r['ratio']:.3g}" if r.get("ratio") is not None else f"  {r}")
                collected[metric] += rows
                _write(out / f"{metric}.json", meta, collected[metric])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _kept(path: Path, sizes: list[int]) -> list:
    if not path.exists():
        return []
    return [r for r in json.loads(path.read_text())["results"] if r["size"] not in sizes]


def _write(path: Path, meta: dict, rows: list) -> None:
    path.write_text(json.dumps({"meta": meta, "results": rows}, indent=1) + "\n")


def cmd_plot(args) -> int:
    from .plot import plot_all

    for path in plot_all(Path(args.results), Path(args.out)):
        print(path)
    return 0


def cmd_table(args) -> int:
    from .tables import markdown

    print(markdown(Path(args.results)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="measure; writes <out>/<metric>.json")
    run.add_argument("--sizes", default=DEFAULT_SIZES, help=f"prefixes per family (default {DEFAULT_SIZES})")
    run.add_argument("--repeats", type=int, default=0, help="interleaved repeats per size (default by size)")
    run.add_argument("--only", default="", help=f"comma-separated subset of {','.join(METRICS)}")
    run.add_argument("--out", default=str(RESULTS))
    run.set_defaults(func=cmd_run)
    plot = sub.add_parser("plot", help="draw PNGs from results files (needs the bench extra)")
    plot.add_argument("--results", default=str(RESULTS))
    plot.add_argument("--out", default=str(REPO / "docs" / "img"))
    plot.set_defaults(func=cmd_plot)
    table = sub.add_parser("table", help="print the results as markdown tables")
    table.add_argument("--results", default=str(RESULTS))
    table.set_defaults(func=cmd_table)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
