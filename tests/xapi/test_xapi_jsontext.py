"""xapi.jsontext: the strict reader of JSON from outside. What it returns can be stored and read back as
the same JSON; anything else is an XAPIValidationError naming the path of the bad value."""

from __future__ import annotations

import json
import math
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xapi import jsontext
from xapi.errors import XAPIValidationError
from xapi.multipart import loads_json


def refused(text: str | bytes, path: str = "", **kw) -> XAPIValidationError:
    with pytest.raises(XAPIValidationError) as error:
        jsontext.loads(text, path, **kw)
    return error.value


@pytest.mark.parametrize(
    "text, path, words",
    [
        ('{"a": [1, {"b": "\\udc00"}]}', "a[1].b", "unpaired UTF-16 surrogate (\\udc00)"),
        ('{"a": "\\uD800\\u0041"}', "a", "surrogate"),  # a high surrogate not followed by a low one
        ('{"ok": 1, "\\udfff": 2}', "\\udfff", "the key holds an unpaired"),
        ('{"a": NaN}', "a", "NaN, which is not valid JSON"),
        ("[Infinity]", "[0]", "Infinity"),
        ("-Infinity", "", "the body is -Infinity"),
        ('{"n": 1e309}', "n", "beyond the range of a double"),
        ('{"n": -' + "9" * 309 + "}", "n", "beyond the range of a double"),
        ('{"n": ' + "1" * 5000 + "}", "n", "beyond the range of a double"),  # past int()'s 4300 digits
        ("[" * 65 + "]" * 65, "[0]" * 64, "nested more than 64"),
        ('{"k":' * 2000 + "1" + "}" * 2000, ".".join(["k"] * 64), "nested more than 64"),  # past the stack
        ('{"a": 1', "", "the body is not valid JSON"),
        ('{"a": 1} x', "", "not valid JSON"),
    ],
)
def test_refused_with_the_path(text, path, words):
    error = refused(text)
    assert error.path == path
    assert words in error.message
    assert "\ud800" not in error.message + error.path and "\udc00" not in error.message + error.path


def test_path_prefix_and_what():
    assert refused('{"name": "\\udc00"}', "agent").path == "agent.name"
    error = refused("{", "agent", what="the parameter 'agent'")
    assert (error.path, error.message.split(":")[0]) == ("agent", "the parameter 'agent' is not valid JSON")


def test_bytes_that_are_not_utf8_are_named_where_they_are():
    assert refused(b'{"a": ["x", "\xed\xb2\x80"]}').path == "a[1]"
    error = refused(b"\xff[]")
    assert (error.path, error.message) == ("", "the body is not valid UTF-8 (byte 0)")


def test_what_may_be_stored_is_returned_as_json_loads_would():
    text = '{"a": [1, -0.0, 1.5e-320, 1.7976931348623157e308, "\\ud83d\\ude00", null, true], "\\u00e5": {}}'
    assert jsontext.loads(text) == json.loads(text)
    assert jsontext.loads("[" * 64 + "]" * 64) == json.loads("[" * 64 + "]" * 64)
    assert jsontext.loads(str(int(sys.float_info.max))) == int(sys.float_info.max)


def test_multipart_uses_the_same_reader():
    with pytest.raises(XAPIValidationError) as error:
        loads_json(b'[{"a": "\\udc00"}]')
    assert error.value.path == "[0].a"


def test_check_value_on_python_values():
    jsontext.check_value({"a": [1, 2.5, "x"]})
    for value, path in (({"a": float("nan")}, "a"), ([10**400], "[0]"), ({"b": {"\udc00": 1}}, "b.\\udc00")):
        with pytest.raises(XAPIValidationError) as error:
            jsontext.check_value(value)
        assert error.value.path == path


# -- property: the reader agrees with a model of storable JSON ------------------------------------

characters = st.one_of(st.characters(codec=None, exclude_categories=()),
                       st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF))
values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**400), max_value=10**400),
              st.floats(allow_nan=True, allow_infinity=True), st.text(characters, max_size=8)),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(characters, max_size=4), children, max_size=4)),
    max_leaves=30,
)


def storable(value, depth=0) -> bool:
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return abs(value) <= int(sys.float_info.max)
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return not any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if depth >= jsontext.MAX_DEPTH:
        return False
    items = value if isinstance(value, list) else [*value.keys(), *value.values()]
    return all(storable(item, depth + 1) for item in items)


@settings(max_examples=400, deadline=None, database=None)
@given(value=values, ascii_only=st.booleans())
def test_reader_accepts_exactly_what_can_be_stored_and_returns_it(value, ascii_only):
    raw = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    if storable(value):
        decoded = jsontext.loads(raw)
        assert json.dumps(decoded) == json.dumps(value)  # equal, NaN-free, and serialisable again
        json.dumps(decoded, ensure_ascii=False).encode("utf-8")  # storable as UTF-8 text
    else:
        with pytest.raises(XAPIValidationError):
            jsontext.loads(raw)
