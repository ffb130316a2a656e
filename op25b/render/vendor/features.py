"""The features a Policy can ask of a vendor platform, named once, and the check every platform runs.

Each platform module declares SUPPORTED, a subset of FEATURES. `check` refuses a policy that needs a
feature outside it and names every such feature at once: a filter that silently lacks part of
the policy would block (or pass) mail the operator believes is handled the other way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ...errors import RenderError
from ...policy import Policy

FEATURES: dict[str, str] = {  # name → what it means, for errors and `--vendor list`
    "action-reject": "enforce pools answer with a TCP reset (action: reject)",
    "action-drop": "enforce pools drop silently (action: drop)",
    "action-admin-prohibited": "enforce pools answer with ICMP administratively prohibited",
    "mode-enforce": "a dynamic pool is blocked",
    "mode-monitor": "a dynamic pool is counted as would-block and passed",
    "mode-off": "a dynamic pool has no rule at all",
    "relays": "destinations that always pass (relays)",
    "exempt": "sources that always pass (static pools and active exemptions)",
    "submission-ports": "submission ports are counted and never blocked",
    "subscriber-interfaces": "only traffic arriving on subscriber_interfaces is inspected",
    "offenders": "the sources that hit a pool rule are recorded (offenders.enabled)",
}


@dataclass(frozen=True)
class Unsupported:
    """Why a platform cannot express a feature, and what the operator can do about it."""

    problem: str
    hint: str


@dataclass(frozen=True)
class Platform:
    name: str  # what --vendor takes
    description: str
    supported: frozenset[str]
    render: Callable[[Policy], str]


def used_features(policy: Policy) -> dict[str, str]:
    """feature → the configuration that asks for it, written the way the operator wrote it."""
    used: dict[str, str] = {}
    for pool in policy.dynamic:
        used.setdefault(f"mode-{pool.mode}", f"pool {pool.name!r}: mode: {pool.mode}")
    # The action only shapes enforce rules; with none, the platform never has to express it.
    enforcing = [pool.name for pool in policy.dynamic if pool.mode == "enforce"]
    if enforcing:
        used[f"action-{policy.action}"] = f"action: {policy.action} (enforced on pool {enforcing[0]!r})"
    if any(policy.relays.values()):
        used["relays"] = "relays"
    if any(policy.exempt.values()):
        used["exempt"] = "static pools / exemptions"
    if policy.submission_ports:
        used["submission-ports"] = f"submission_ports: {list(policy.submission_ports)}"
    if policy.subscriber_interfaces:
        used["subscriber-interfaces"] = f"subscriber_interfaces: {list(policy.subscriber_interfaces)}"
    if policy.offenders_size and policy.kernel_pools:
        used["offenders"] = "offenders.enabled: true"
    return used


def check(platform: str, supported: frozenset[str], policy: Policy,
          why_not: dict[str, Unsupported] | None = None) -> None:
    """Raise RenderError naming every feature `policy` needs that `supported` lacks."""
    why_not = why_not or {}
    missing = [(feature, where) for feature, where in used_features(policy).items() if feature not in supported]
    if not missing:
        return
    problems, hints = [], []
    for feature, where in missing:
        reason = why_not.get(feature) or Unsupported(
            f"{platform} cannot express this: {FEATURES[feature]}",
            "change that in the configuration, or render for another platform")
        problems.append(f"  {where}: {reason.problem}")
        hints.append(reason.hint)
    raise RenderError(f"--vendor {platform} cannot render this policy faithfully, so it renders nothing:\n"
                      + "\n".join(problems), hint="\n  hint: ".join(hints))
