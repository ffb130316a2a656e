"""Stage 5, vendor branch: Policy → another platform's filter text, for routers op25b does not run on.

One module per platform, each declaring the features it SUPPORTS (features.py). A policy that needs
anything else is refused with a RenderError naming the feature: never rendered with a part missing.
"""

from __future__ import annotations

from ...errors import RenderError
from ...policy import Policy
from . import ios_xe, junos
from .features import FEATURES, Platform

PLATFORMS: dict[str, Platform] = {p.name: p for p in (junos.PLATFORM, ios_xe.PLATFORM)}
LIST = "list"  # `--vendor list` prints the platforms instead of rendering


def render_vendor(name: str, policy: Policy) -> str:
    """Render `policy` for platform `name`, or describe the platforms when `name` is "list"."""
    if name == LIST:
        return platform_list()
    platform = PLATFORMS.get(name)
    if platform is None:
        raise RenderError(f"unknown vendor {name!r}; op25b renders for: {', '.join(PLATFORMS)}",
                          hint="op25b render --vendor list describes each platform and what it cannot express")
    return platform.render(policy)


def platform_list() -> str:
    width = max(len(name) for name in PLATFORMS)
    lines = []
    for name, platform in PLATFORMS.items():
        lines.append(f"{name:<{width}}  {platform.description}")
        missing = sorted(set(FEATURES) - platform.supported)
        summary = f"cannot express: {'; '.join(FEATURES[f] for f in missing)}" if missing else "expresses every feature"
        lines.append(f"{'':<{width}}  {summary}")
    return "\n".join(lines) + "\n"


__all__ = ["PLATFORMS", "render_vendor", "platform_list"]
