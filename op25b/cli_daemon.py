"""CLI commands of the controller (issue: daemon, exporter, systemd): run, restore, top."""

from __future__ import annotations


def register(sub, command) -> None:
    """Add the controller's subcommands; `command(name, func, help)` adds one with -c/--config."""
