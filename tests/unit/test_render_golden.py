"""Golden renders: each tests/data/render/<case>.yaml has <case>.nft (the declarative ruleset) and
<case>.transaction.nft (what apply sends to an empty kernel). Regenerate with --update-golden."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from op25b.config import load_config
from op25b.policy import compile_policy
from op25b.render.nftables import build_ruleset, ruleset_text, transaction
from op25b.ruleset import Inventory

CASES = sorted(Path(__file__).parent.parent.joinpath("data", "render").glob("*.yaml"))
TODAY = dt.date(2026, 12, 4)  # fixed, so exemption expiry does not change the golden files


def render(case: Path) -> dict[str, str]:
    ruleset = build_ruleset(compile_policy(load_config(case), TODAY))
    return {".nft": ruleset_text(ruleset), ".transaction.nft": transaction(ruleset, Inventory())}


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_render_matches_golden(case, update_golden):
    for suffix, text in render(case).items():
        golden = case.with_suffix(suffix)
        if update_golden:
            golden.write_text(text)
        assert golden.exists(), f"{golden} is missing; run pytest --update-golden once on purpose"
        assert text == golden.read_text(), f"{golden.name} differs; review, then --update-golden"


def test_there_are_golden_cases():
    assert len(CASES) >= 3


def test_shipped_reference_render_is_current(update_golden):
    """rules/nftables/ ships the render of examples/op25b.yaml; it must not go stale."""
    root = Path(__file__).parent.parent.parent
    example = root / "examples" / "op25b.yaml"
    rendered = render(example)
    for suffix, name in ((".nft", "op25b-example.nft"), (".transaction.nft", "op25b-example.transaction.nft")):
        shipped = root / "rules" / "nftables" / name
        if update_golden:
            shipped.write_text(rendered[suffix])
        assert shipped.read_text() == rendered[suffix], f"{shipped} is stale; run pytest --update-golden"
