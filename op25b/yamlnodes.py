"""Read YAML into plain Python values while remembering the line of every value.

Parsing is PyYAML's safe path (compose with the SafeLoader, construct scalars with the
SafeConstructor), so no tag can instantiate an object; the walk only adds line numbers so that
errors can say `pools[2].prefixes[1]` and the line where it stands.
"""

from __future__ import annotations

from typing import Any

import yaml

from .errors import ConfigError, Where

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Located:
    """The parsed document plus a YAML-path → line index."""

    def __init__(self, file: str, value: Any, lines: dict[str, int]) -> None:
        self.file = file
        self.value = value
        self._lines = lines

    def where(self, path: str) -> Where:
        # Fall back to the closest parent that has a line (e.g. a missing key → its mapping).
        probe = path
        while probe and probe not in self._lines:
            probe = _parent(probe)
        return Where(self.file, path, self._lines.get(probe))


def _parent(path: str) -> str:
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""


def load(file: str, text: str) -> Located:
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(Where(file, "", line), f"this is not valid YAML: {problem}",
                          "check indentation and quoting around that line") from None
    lines: dict[str, int] = {}
    constructor = yaml.SafeLoader("")  # only its scalar constructors are used
    value = _walk(node, "", lines, constructor, file) if node is not None else None
    return Located(file, value, lines)


_PLAIN_TAGS = {f"tag:yaml.org,2002:{name}" for name in
               ("map", "seq", "str", "int", "float", "bool", "null", "timestamp")}


def _walk(node: yaml.Node, path: str, lines: dict[str, int], constructor: Any, file: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if node.tag not in _PLAIN_TAGS:
        raise ConfigError(Where(file, path, lines[path]), f"the YAML tag {node.tag!r} is not allowed",
                          "the configuration holds plain mappings, lists, strings, numbers and dates")
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node)
            if not isinstance(key, str):
                raise ConfigError(Where(file, path, key_node.start_mark.line + 1),
                                  f"mapping key {key!r} is not a string")
            if key in out:
                raise ConfigError(Where(file, _join(path, key), key_node.start_mark.line + 1),
                                  f"key {key!r} appears twice", "remove one of them")
            out[key] = _walk(value_node, _join(path, key), lines, constructor, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = node.value
        if all(type(item) is yaml.ScalarNode and item.tag == _STR for item in items):
            # A list of plain strings (pool prefixes, often 100k of them): one pass, no recursion.
            for i, item in enumerate(items):
                lines[f"{path}[{i}]"] = item.start_mark.line + 1
            return [item.value for item in items]
        return [_walk(item, f"{path}[{i}]", lines, constructor, file)
                for i, item in enumerate(items)]
    if node.tag == _STR and isinstance(node.value, str):
        return node.value  # the common case (every prefix); skips the constructor's bookkeeping
    return constructor.construct_object(node)


_STR = "tag:yaml.org,2002:str"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
