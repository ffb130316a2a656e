"""CI smoke run of the benchmark harness at N=1k, one repeat: it must run and write the documented
JSON shape. No timing is asserted here; the numbers live in docs/performance.md."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

# bench/ is a top-level folder of the repository, not part of the installed op25b package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.modules.pop("bench", None)  # tests/bench may have been imported as a namespace package

pytestmark = pytest.mark.kernel

ROW_KEYS = {"metric", "variant", "size", "unit", "ours", "baseline", "ratio", "paired_ratio", "repeats",
            "samples"}


@pytest.mark.timeout(120)
def test_harness_runs_at_1k_and_writes_the_documented_shape(tmp_path):
    from bench.__main__ import main

    assert main(["run", "--sizes", "1000", "--repeats", "1", "--out", str(tmp_path)]) == 0
    files = {p.stem: json.loads(p.read_text()) for p in tmp_path.glob("*.json")}
    assert {"P1", "P2", "P3", "P4", "P5"} <= set(files)
    for metric, document in files.items():
        meta = document["meta"]
        assert {"nproc", "cpu_model", "kernel", "nft"} <= set(meta)
        for result in document["results"]:
            assert ROW_KEYS <= set(result), (metric, result)
            assert result["metric"] == metric and result["size"] == 1000 and result["repeats"] == 1
            assert result["ours"] > 0 and result["baseline"] > 0
            if result["unit"] == "s":
                assert result["ours_s"] == result["ours"]
    assert files["P1"]["results"] and files["P3"]["results"]


def test_plot_draws_a_png_per_metric(tmp_path):
    pytest.importorskip("matplotlib")
    from bench.plot import plot_all

    document = {"meta": {"nproc": 2, "cpu_model": "x", "kernel": "k", "nft": "v"},
                "results": [{"metric": "P1", "variant": "exemptions_file", "size": n, "unit": "s", "ours": 2.0,
                             "baseline": 1.0, "ratio": 2.0, "paired_ratio": 2.0, "repeats": 1,
                             "higher_is_better": False, "samples": {"ours": [2.0], "baseline": [1.0]}}
                            for n in (1000, 10000)]}
    (tmp_path / "P1.json").write_text(json.dumps(document))
    drawn = plot_all(tmp_path, tmp_path / "img")
    assert [p.suffix for p in drawn] == [".png"] and drawn[0].stat().st_size > 0
