"""Draw one PNG per metric from results files: the ratio against the same-run baseline (left) and
both absolute medians with the issue's target (right), over the number of prefixes per family."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

# (ratio target, absolute target, title) per metric; None where the issue sets none.
TARGETS = {
    "P1": (1.3, None, "P1 full reconcile vs raw nft -f"),
    "P2": (None, 0.010, "P2 counter scrape vs nft -j list chain"),
    "P3": (None, 0.050, "P3 one-pool change: netlink delta vs baselines"),
    "P4": (0.97, None, "P4 non-SMTP forwarding throughput vs no rules"),
    "P5": (None, 150.0, "P5 peak RSS vs nft -f"),
    "SIGHUP": (None, None, "SIGHUP to new rules in the kernel"),
}


def plot_all(results: Path, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    drawn = []
    for path in sorted(results.glob("*.json")):
        document = json.loads(path.read_text())
        rows = document["results"]
        if not rows:
            continue
        metric = rows[0]["metric"]
        ratio_target, absolute_target, title = TARGETS.get(metric, (None, None, metric))
        by_variant = defaultdict(list)
        for r in rows:
            by_variant[r["variant"]].append(r)
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
        for variant, series in by_variant.items():
            series.sort(key=lambda r: r["size"])
            sizes = [r["size"] for r in series]
            left.plot(sizes, [r["ratio"] for r in series], marker="o", label=variant)
            right.plot(sizes, [r["ours"] for r in series], marker="o", label=f"ours: {variant}")
            right.plot(sizes, [r["baseline"] for r in series], marker="x", linestyle="--",
                       label=f"baseline ({variant})")
        if ratio_target:
            left.axhline(ratio_target, color="red", linestyle=":", label=f"target {ratio_target}×")
        if absolute_target:
            right.axhline(absolute_target, color="red", linestyle=":", label=f"target {absolute_target}")
        unit = rows[0]["unit"]
        for axis in (left, right):
            axis.set_xscale("log")
            axis.set_xlabel("prefixes per family")
            axis.grid(True, which="both", alpha=0.3)
        left.set_ylabel("ours / baseline (median)")
        right.set_ylabel(f"median ({unit})")
        if unit == "s":
            right.set_yscale("log")
        if metric == "P3":
            left.set_yscale("log")
        left.legend(fontsize=7)
        right.legend(fontsize=6)
        meta = document["meta"]
        fig.suptitle(f"{title}\n{meta.get('nproc')}× {meta.get('cpu_model')}, kernel {meta.get('kernel')}, "
                     f"{meta.get('nft')}", fontsize=9)
        fig.tight_layout()
        target = out / f"bench-{metric.lower()}.png"
        fig.savefig(target, dpi=90)
        plt.close(fig)
        drawn.append(target)
    return drawn
