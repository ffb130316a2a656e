"""Markdown tables from results files, for docs/performance.md (`python -m bench table`)."""

from __future__ import annotations

import json
from pathlib import Path


def _number(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
    return f"{value:.3g} {unit}"


def markdown(results: Path) -> str:
    out = []
    for path in sorted(results.glob("*.json")):
        rows = json.loads(path.read_text())["results"]
        if not rows:
            continue
        out.append(f"### {rows[0]['metric']}\n")
        out.append("| variant | prefixes/family | ours (median) | baseline (median) | ratio | paired ratio | repeats |")
        out.append("|---|---:|---:|---:|---:|---:|---:|")
        for r in sorted(rows, key=lambda r: (r["variant"], r["size"])):
            paired = f"{r['paired_ratio']:.3g}" if r.get("paired_ratio") is not None else "–"
            out.append(f"| {r['variant']} | {r['size']:,} | {_number(r['ours'], r['unit'])} | "
                       f"{_number(r['baseline'], r['unit'])} | {r['ratio']:.3g} | {paired} | {r['repeats']} |")
        out.append("")
    return "\n".join(out)
