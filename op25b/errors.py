"""The one exception tree of op25b. Every error an operator can meet derives from Op25bError.

    Op25bError                      base; str() is a complete operator-facing sentence
    ├── ConfigError                 the YAML (or a pool source) is invalid; carries file, YAML path, line
    │   └── ConfigErrors            several ConfigError at once, so one run reports them all
    │                               (a prefixes_file that cannot be read or parsed is a ConfigError too)
    ├── KernelError                 nft or netlink refused or failed; the kernel kept what it had
    ├── RenderError                 a vendor render cannot express the policy, or names no known vendor
    └── StateError                  the last-known-good state is missing or unreadable

The CLI maps them to exit code 2 and prints them without a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class Op25bError(Exception):
    """Base of every op25b error."""

    hint: str = ""

    def __str__(self) -> str:  # pragma: no cover - trivial
        text = super().__str__()
        return f"{text}\n  hint: {self.hint}" if self.hint else text


@dataclass(frozen=True)
class Where:
    """Where a configuration value came from, for error messages."""

    file: str
    path: str = ""  # YAML path such as pools[2].prefixes[1]
    line: int | None = None  # 1-based

    def __str__(self) -> str:
        parts = [self.file]
        if self.line is not None:
            parts[0] = f"{self.file}:{self.line}"
        if self.path:
            parts.append(self.path)
        return ": ".join(parts)


class ConfigError(Op25bError):
    """One invalid value in the configuration."""

    def __init__(self, where: Where, problem: str, hint: str = "") -> None:
        self.where = where
        self.problem = problem
        self.hint = hint
        super().__init__(f"{where}: {problem}")


class ConfigErrors(ConfigError):
    """Several configuration errors, reported together."""

    def __init__(self, errors: list[ConfigError]) -> None:
        # A source file's own ConfigErrors nest inside the configuration's: report them flat.
        errors = [one for e in errors for one in (e.errors if isinstance(e, ConfigErrors) else [e])]
        self.errors = errors
        first = errors[0]
        Op25bError.__init__(self, "\n".join(_one(e) for e in errors))
        self.where, self.problem, self.hint = first.where, first.problem, ""


def _one(error: ConfigError) -> str:
    text = f"error: {error.where}: {error.problem}"
    return f"{text}\n  hint: {error.hint}" if error.hint else text


class KernelError(Op25bError):
    """The kernel (through nft or netlink) refused or failed; it kept its previous rules."""


class RenderError(Op25bError):
    """A vendor platform cannot express the policy faithfully (so nothing is rendered), or is unknown."""

    def __init__(self, message: str, hint: str = "") -> None:
        self.hint = hint
        super().__init__(message)


class StateError(Op25bError):
    """The last-known-good state is missing or unreadable."""
