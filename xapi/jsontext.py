"""One strict reader for JSON that comes from outside: request bodies, parameters, multipart parts.

Python's :func:`json.loads` accepts more than JSON, and more than the store can hold and serve again:

- ``NaN``, ``Infinity`` and ``-Infinity`` (not JSON at all), and numbers beyond a double (``1e400``
  silently becomes ``inf``, which is then written back as ``Infinity``; an integer of hundreds of digits
  overflows the first ``float()`` that meets it);
- unpaired UTF-16 surrogates written as escapes (``"\\udc00"``): no UTF-8 text can hold one, so
  PostgreSQL refuses the row and SQLite stores it, after which every read that serialises it fails;
- nesting deep enough to exhaust the interpreter's stack in whatever walks the value next.

:func:`loads` refuses each of them with an :class:`~xapi.errors.XAPIValidationError` naming the path of
the bad value (``[0].result.score.raw``), so whatever it returns can be stored, serialised and read back
as the same JSON. The checks cost a walk of the value only when the text could hold a problem (a refused
number, a ``\\uD8..``-style escape, more brackets than the depth limit).
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from .errors import XAPIValidationError

__all__ = ["MAX_DEPTH", "MAX_NUMBER", "check_value", "loads"]

# Arrays and objects inside one another. xAPI statements need about ten; extensions and documents get
# the rest. Well below the interpreter's recursion limit, which every later recursive walk shares.
MAX_DEPTH = 64
# The largest magnitude a JSON number may have: the largest finite double. Consumers that read numbers
# as doubles (JavaScript, PostgreSQL's float8, float() here) can hold anything up to it.
MAX_NUMBER = sys.float_info.max
_MAX_INT = int(MAX_NUMBER)
_MAX_INT_DIGITS = len(str(_MAX_INT))

_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# Text that may decode to a surrogate: a \uD800-\uDFFF escape (any case), or one already in a str.
_SURROGATE_HINT_RE = re.compile(r"\\u[dD][89a-fA-F]|[\ud800-\udfff]")


class _Refused:
    """Stands in for a value the parser hooks refused; the walk reports it with its path."""

    __slots__ = ("message",)

    def __init__(self, message: str) -> None:
        self.message = message


def _p(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _shown(text: str) -> str:
    # A path or message must itself be sendable as UTF-8: surrogates are shown as their escape.
    return text.encode("utf-8", "backslashreplace").decode("utf-8") if _SURROGATE_RE.search(text) else text


def _surrogate_message(text: str) -> str:
    found = _SURROGATE_RE.search(text)
    assert found is not None
    return (
        f"holds an unpaired UTF-16 surrogate ({_shown(found.group())}), which is not a character: "
        "text must be valid Unicode"
    )


def loads(data: bytes | bytearray | str, path: str = "", *, what: str = "the body", max_depth: int = MAX_DEPTH) -> Any:
    """Decode JSON from outside strictly: UTF-8, standard JSON only, values the store can hold.

    Refused, each with :class:`XAPIValidationError` (``path`` prefixes every reported path; ``what``
    names the whole text in messages about it): bytes that are not UTF-8, text that is not JSON,
    ``NaN``/``Infinity``, numbers beyond the range of a double, unpaired surrogates in strings or keys,
    and arrays/objects nested more than ``max_depth`` deep.
    """
    if isinstance(data, (bytes, bytearray)):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise _not_utf8(data, error.start, path, what) from None
    else:
        text = data
    refused: list[_Refused] = []

    def refuse(message: str) -> _Refused:
        marker = _Refused(message)
        refused.append(marker)
        return marker

    def parse_int(literal: str) -> int | _Refused:
        # Measure before converting: int() of thousands of digits is slow, and past 4300 an error.
        if len(literal) - literal.startswith("-") <= _MAX_INT_DIGITS:
            value = int(literal)
            if abs(value) <= _MAX_INT:
                return value
        return refuse(f"is a number beyond the range of a double (±{MAX_NUMBER:.4g}): {literal[:20]}...")

    def parse_float(literal: str) -> float | _Refused:
        value = float(literal)
        if value in (float("inf"), float("-inf")):
            return refuse(f"is a number beyond the range of a double (±{MAX_NUMBER:.4g}): {literal[:40]}")
        return value

    def parse_constant(name: str) -> _Refused:
        return refuse(f"is {name}, which is not valid JSON (JSON numbers are finite)")

    try:
        value = json.loads(text, parse_int=parse_int, parse_float=parse_float, parse_constant=parse_constant)
    except json.JSONDecodeError as error:
        raise XAPIValidationError(path, f"{what} is not valid JSON: {error}") from None
    except RecursionError:
        where = _deep_path(text, max_depth, path)
        raise XAPIValidationError(
            where, f"{'' if where else what + ' '}is nested more than {max_depth} arrays/objects deep"
        ) from None
    if (
        refused
        or text.count("[") + text.count("{") > max_depth
        or _SURROGATE_HINT_RE.search(text) is not None
    ):
        check_value(value, path, what=what, max_depth=max_depth)
    return value


def check_value(value: Any, path: str = "", *, what: str = "the value", max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`XAPIValidationError` at the first value (in document order) JSON from outside may not hold.

    For values decoded by :func:`loads` or built in Python: non-finite or too large numbers, unpaired
    surrogates in strings and keys, nesting deeper than ``max_depth``. ``what`` names ``value`` itself
    when the problem is at its top.
    """
    try:
        _check(value, path, max_depth)
    except XAPIValidationError as error:
        if error.path:
            raise
        raise XAPIValidationError("", f"{what} {error.message}") from None


def _check(value: Any, path: str, max_depth: int, *, text_only: bool = False) -> None:
    """Raise at the first value that may not be stored; ``text_only``: look at strings and keys only."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        kind = type(item)
        if kind is str:
            if _SURROGATE_RE.search(item):
                raise XAPIValidationError(where, _surrogate_message(item))
        elif kind is dict or kind is list:
            if depth >= max_depth and not text_only:
                raise XAPIValidationError(where, f"is nested more than {max_depth} arrays/objects deep")
            if kind is dict:
                children = []
                for key, child in item.items():
                    if type(key) is str and _SURROGATE_RE.search(key):
                        raise XAPIValidationError(_p(where, _shown(key)), f"the key {_surrogate_message(key)}")
                    children.append((child, _p(where, _shown(str(key))), depth + 1))
                stack.extend(reversed(children))
            else:
                stack.extend((item[i], f"{where}[{i}]", depth + 1) for i in range(len(item) - 1, -1, -1))
        elif text_only:
            continue
        elif kind is _Refused:
            raise XAPIValidationError(where, item.message)
        elif kind is float:
            if item != item or item in (float("inf"), float("-inf")):
                raise XAPIValidationError(where, "must be a finite number (JSON has no NaN or Infinity)")
        elif kind is int and abs(item) > _MAX_INT:
            raise XAPIValidationError(where, f"is a number beyond the range of a double (±{MAX_NUMBER:.4g})")


def _not_utf8(data: bytes | bytearray, start: int, path: str, what: str) -> XAPIValidationError:
    """The error for bytes that are not UTF-8, naming the string or key that holds them when there is one."""
    # surrogateescape turns each bad byte into a lone surrogate, which the text-only walk then finds.
    try:
        _check(json.loads(data.decode("utf-8", "surrogateescape")), path, MAX_DEPTH, text_only=True)
    except XAPIValidationError as found:
        return XAPIValidationError(found.path, f"is not valid UTF-8 text (byte {start} of {what})")
    except (ValueError, RecursionError):
        pass
    return XAPIValidationError(path, f"{what} is not valid UTF-8 (byte {start})")


_TOKEN_RE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},]')


def _deep_path(text: str, max_depth: int, path: str) -> str:
    """The path of the first array/object more than ``max_depth`` deep in ``text``, read from the text.

    Only called when the parser itself ran out of stack, so the text was never decoded.
    """
    # Each open container: [is_object, index in an array or the current key of an object].
    stack: list[list] = []
    expecting_key = False
    for match in _TOKEN_RE.finditer(text):
        token = match.group()
        if token in "[{":
            if len(stack) >= max_depth:
                break
            stack.append([token == "{", 0 if token == "[" else ""])
            expecting_key = token == "{"
        elif token in "]}":
            if stack:
                stack.pop()
            expecting_key = False
        elif token == ",":
            if stack and not stack[-1][0]:
                stack[-1][1] += 1
            expecting_key = bool(stack) and stack[-1][0]
        elif expecting_key:
            try:
                stack[-1][1] = _shown(json.loads(token))
            except ValueError:
                stack[-1][1] = "?"
            expecting_key = False
    where = path
    for is_object, step in stack:
        where = _p(where, step) if is_object else f"{where}[{step}]"
    return where
