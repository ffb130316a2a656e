"""The one place that joins the stages: config → policy → ruleset → (plan | apply) via an Applier.

Dependencies (the applier, today's date) are injected so the same pass runs against the
kernel, the Fake, or inside the daemon.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

from .apply.base import Applier
from .config import Config, load_config
from .diff import diff
from .policy import Policy, compile_policy
from .render.nftables import build_ruleset
from .ruleset import Ruleset
from .sources.cache import SourceCache


@dataclass(frozen=True)
class Compiled:
    config: Config
    policy: Policy
    ruleset: Ruleset


@dataclass(frozen=True)
class PassResult:
    changes: tuple[str, ...]
    applied: bool
    seconds: float
    script: str = ""


def compile_file(path: str, today: dt.date | None = None, cache: SourceCache | None = None) -> Compiled:
    config = load_config(path, cache)
    policy = compile_policy(config, today)
    return Compiled(config, policy, build_ruleset(policy))


def plan(compiled: Compiled, applier: Applier) -> list[str]:
    return diff(compiled.ruleset, applier.current(compiled.ruleset.table))


def apply(compiled: Compiled, applier: Applier, precheck: bool = False) -> PassResult:
    """Send the whole desired state as one transaction; the daemon decides when (daemon.py)."""
    started = time.monotonic()
    script = applier.apply(compiled.ruleset, precheck=precheck)
    return PassResult((), True, time.monotonic() - started, script)
