"""YAML loading that remembers line numbers, so every validation issue can point at a line.

Mappings load as :class:`LineDict` and sequences as :class:`LineList`; both are ordinary ``dict``/``list``
objects (marshmallow and JSON see nothing special) that also carry the 1-based line of the node itself
(``.line``) and of each key or item (``.lines``).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, SequenceNode


class LineDict(dict):
    line: int = 0
    lines: dict

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines = {}


class LineList(list):
    line: int = 0
    lines: list

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.lines = []


class YAMLProblem(Exception):
    """A file that is not valid YAML (or repeats a key); ``line`` is 1-based when YAML knows it."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class _LineLoader(yaml.SafeLoader):
    """SafeLoader (no Python object tags) that records lines and refuses duplicate keys and aliases."""

    def compose_node(self, parent: Any, index: Any) -> Any:  # type: ignore[override]
        # Aliases let a few lines expand into billions of nodes (the "billion laughs"); packages never need them.
        if self.check_event(yaml.events.AliasEvent):
            raise _AliasFound(self.peek_event().start_mark.line + 1)
        return super().compose_node(parent, index)


def _construct_mapping(loader: _LineLoader, node: MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise ConstructorError(None, None, "found an unhashable key", key_node.start_mark) from None
        if key in result:
            raise _DuplicateKey(key, key_node.start_mark.line + 1)
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.lines = [child.start_mark.line + 1 for child in node.value]
    return result


def _construct_timestamp_as_text(loader: _LineLoader, node: yaml.Node) -> str:
    # Dates stay text, so that the schema validates one representation ("2025-05-01") and JSON can store it.
    return loader.construct_scalar(node)  # type: ignore[arg-type]


class _AliasFound(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int) -> None:
        self.key = key
        self.line = line


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp_as_text)


def load_yaml(text: str) -> Any:
    """Parse one YAML document; raise :class:`YAMLProblem` with a line number when it is broken."""
    from flask_babel import gettext as _

    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as exc:
        raise YAMLProblem(_("The key '%(key)s' appears twice in the same mapping.", key=exc.key), exc.line) from None
    except _AliasFound as exc:
        raise YAMLProblem(_("YAML aliases (*name) are not allowed in a package; write the value out."),
                          exc.line) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or str(exc)
        if exc.context:
            problem = f"{exc.context}: {problem}"
        raise YAMLProblem(_("This is not valid YAML (%(problem)s).", problem=problem), line) from None
    except yaml.YAMLError as exc:
        raise YAMLProblem(_("This is not valid YAML (%(problem)s).", problem=str(exc)), None) from None


def line_for(data: Any, path: Iterable[Any]) -> int | None:
    """The line of the deepest node on ``path`` that exists (a missing key points at its parent mapping)."""
    line = getattr(data, "line", None) or None
    node = data
    for step in path:
        if isinstance(node, LineDict) and step in node:
            line = node.lines.get(step, line)
            node = node[step]
        elif isinstance(node, LineList) and isinstance(step, int) and 0 <= step < len(node):
            line = node.lines[step]
            node = node[step]
        else:
            break
        child_line = getattr(node, "line", None)
        if child_line and not isinstance(node, LineDict | LineList):
            line = child_line
    return line


def plain(data: Any) -> Any:
    """A copy made of plain dicts and lists (for JSON columns and pickling)."""
    if isinstance(data, dict):
        return {key: plain(value) for key, value in data.items()}
    if isinstance(data, list):
        return [plain(value) for value in data]
    return data
