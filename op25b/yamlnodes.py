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
        try:
            return _from_events(file, text)
        except _NeedsComposer:
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


class _NeedsComposer(Exception):
    """Anchors, aliases or several documents: leave them to PyYAML's composer."""


def _from_events(file: str, text: str) -> Located:
    """Build the values straight from the C parser's events. Skipping the node graph makes a
    200k-line prefix list load in well under half the time of compose (0.95 s against 2.3 s
    here); the tag, duplicate-key and line rules are the same as in _walk below."""
    resolver = yaml.resolver.Resolver()
    constructor = yaml.SafeLoader("")
    lines: dict[str, int] = {}
    stack: list[list] = []  # [container, its path, the pending mapping key or None]
    root: Any = None
    documents = 0

    def place(value: Any, event: yaml.Event) -> str | None:
        """Put a value into the open container; returns its path (None when it was a key)."""
        nonlocal root
        line = event.start_mark.line + 1
        if not stack:
            root = value
            path = ""
        else:
            top = stack[-1]
            container, parent = top[0], top[1]
            if isinstance(container, list):
                path = f"{parent}[{len(container)}]"
                container.append(value)
            elif top[2] is None:  # this value is a key
                if not isinstance(value, str):
                    raise ConfigError(Where(file, parent, line), f"mapping key {value!r} is not a string")
                if value in container:
                    raise ConfigError(Where(file, _join(parent, value), line), f"key {value!r} appears twice",
                                      "remove one of them")
                top[2] = value
                return None
            else:
                path = _join(parent, top[2])
                container[top[2]] = value
                top[2] = None
        lines[path] = line
        return path

    for event in yaml.parse(text, Loader=_Loader):
        kind = type(event)
        if kind is yaml.ScalarEvent:
            if event.anchor:
                raise _NeedsComposer
            tag = event.tag
            if tag is None or tag == "!":
                tag = resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
            if tag == _STR:
                value: Any = event.value
            elif tag in _PLAIN_TAGS:
                value = constructor.construct_object(yaml.ScalarNode(tag, event.value, event.start_mark,
                                                                     event.end_mark, event.style))
            else:
                raise _tag_error(file, stack, event, tag)
            place(value, event)
        elif kind in (yaml.MappingStartEvent, yaml.SequenceStartEvent):
            if event.anchor:
                raise _NeedsComposer
            mapping = kind is yaml.MappingStartEvent
            if event.tag not in (None, "!", "tag:yaml.org,2002:map" if mapping else "tag:yaml.org,2002:seq"):
                raise _tag_error(file, stack, event, event.tag)
            container: Any = {} if mapping else []
            path = place(container, event)
            if path is None:
                raise ConfigError(Where(file, stack[-1][1], event.start_mark.line + 1),
                                  "a mapping key must be a plain string")
            stack.append([container, path, None])
        elif kind in (yaml.MappingEndEvent, yaml.SequenceEndEvent):
            stack.pop()
        elif kind is yaml.AliasEvent:
            raise _NeedsComposer
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _NeedsComposer  # let compose report "expected a single document"
    return Located(file, root, lines)


def _tag_error(file: str, stack: list, event: yaml.Event, tag: str) -> ConfigError:
    parent = stack[-1] if stack else None
    if parent is None:
        path = ""
    elif isinstance(parent[0], list):
        path = f"{parent[1]}[{len(parent[0])}]"
    else:
        path = _join(parent[1], parent[2]) if parent[2] is not None else parent[1]
    return ConfigError(Where(file, path, event.start_mark.line + 1), f"the YAML tag {tag!r} is not allowed",
                       "the configuration holds plain mappings, lists, strings, numbers and dates")


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
