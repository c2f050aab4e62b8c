"""Property tests of what the LRS accepts from outside (issue #14): any JSON-ish input gets a 2xx or a 4xx,
never a 5xx, and whatever is accepted reads back as valid JSON equal to what was sent.

The inputs hold what Python's json lets through but a store cannot hold: unpaired surrogates, characters
outside the BMP, NaN and Infinity, numbers of any size, deep nesting, long arrays. A small model
(``storable``) says which of them must be refused; the LRS must agree with it exactly.
"""

from __future__ import annotations

import json
import math
import os
import sys
import uuid
from urllib.parse import quote, quote_from_bytes

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from lrs_helpers import make_statement

from xapi.jsontext import MAX_DEPTH

PROPERTY_SETTINGS = settings(
    # A deeper run now and then: LRS_PROPERTY_EXAMPLES=2000 pytest tests/lrs/test_lrs_properties.py
    max_examples=int(os.environ.get("LRS_PROPERTY_EXAMPLES", "120")),
    deadline=None,
    database=None,  # no .hypothesis folder in the working tree
    # `xapi` is function-scoped but holds nothing an example changes: every example uses fresh ids.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
MAX_INT = int(sys.float_info.max)
EXTENSION = "http://example.com/extension"
AGENT = json.dumps({"mbox": "mailto:learner@example.com"})

# -- the inputs -------------------------------------------------------------------------------------

characters = st.one_of(
    st.characters(codec=None, exclude_categories=()),  # any code point, astral planes included
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),  # unpaired surrogates, so they come often
    st.sampled_from("\x00\"\\/\u2028\ufeff\U0001f600"),
)
texts = st.text(characters, max_size=12)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),  # past a double in both directions
    st.floats(allow_nan=True, allow_infinity=True),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(texts, children, max_size=4)),
    max_leaves=25,
)


def nested(depth: int, kind: str) -> object:
    value: object = []
    for _ in range(depth - 1):
        value = [value] if kind == "[" else {"k": value}
    return value


values = st.one_of(
    json_values,
    st.builds(nested, st.integers(1, 2 * MAX_DEPTH), st.sampled_from("[{")),
    st.integers(0, 20_000).map(lambda n: list(range(n))),  # a long array
)


def encode(value: object, ascii_only: bool) -> bytes:
    """JSON text as a client would send it: NaN/Infinity written out; surrogates as \\u escapes, or (not
    ASCII) as the bytes a careless encoder writes for them, which are not UTF-8."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


# -- the model --------------------------------------------------------------------------------------


def _text_ok(text: str, nul_ok: bool) -> bool:
    return not any(0xD800 <= ord(c) <= 0xDFFF for c in text) and (nul_ok or "\x00" not in text)


def storable(value: object, depth: int = 0, *, nul_ok: bool = True) -> bool:
    """Whether the LRS must accept ``value`` as JSON (``depth``: how many arrays/objects hold it)."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) <= MAX_INT
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, str):
        return _text_ok(value, nul_ok)
    if depth >= MAX_DEPTH:
        return False
    if isinstance(value, list):
        return all(storable(item, depth + 1, nul_ok=nul_ok) for item in value)
    return all(_text_ok(key, nul_ok) and storable(item, depth + 1, nul_ok=nul_ok) for key, item in value.items())


def json_equal(sent: object, got: object) -> bool:
    """Equal as JSON: numbers by value (PostgreSQL's jsonb gives 1e+20 back as 100000000000000000000)."""
    if isinstance(sent, bool) or isinstance(got, bool):
        return sent is got
    if isinstance(sent, (int, float)) and isinstance(got, (int, float)):
        return sent == got if type(sent) is type(got) is int else float(sent) == float(got)
    if isinstance(sent, list) and isinstance(got, list):
        return len(sent) == len(got) and all(json_equal(a, b) for a, b in zip(sent, got, strict=True))
    if isinstance(sent, dict) and isinstance(got, dict):
        return sent.keys() == got.keys() and all(json_equal(sent[k], got[k]) for k in sent)
    return sent == got


def assert_answer(response, accepted: bool, what) -> None:
    assert response.status_code < 500, (what, response.status_code, response.data[:300])
    if accepted:
        assert response.status_code in (200, 204), (what, response.data[:300])
    else:
        assert 400 <= response.status_code < 500, (what, response.status_code, response.data[:300])
        error = response.get_json()["error"]
        assert error["message"], error


# -- statements -------------------------------------------------------------------------------------


def _post_and_read_back(xapi, statement: dict, ascii_only: bool, put: bool):
    body = encode(statement, ascii_only)
    headers = {"Content-Type": "application/json"}
    if put:
        response = xapi.put("statements", query={"statementId": statement["id"]}, data=body, headers=headers)
    else:
        response = xapi.post("statements", data=body, headers=headers)
    got = xapi.get("statements", query={"statementId": statement["id"]})
    return response, got


@PROPERTY_SETTINGS
@given(value=values, ascii_only=st.booleans(), put=st.booleans())
def test_any_extension_value_is_stored_exactly_or_refused(app, xapi, value, ascii_only, put):
    statement = make_statement(id=str(uuid.uuid4()), result={"extensions": {EXTENSION: value}})
    # The value sits in three objects (statement, result, extensions); the statement store refuses NUL.
    accepted = storable(value, 3, nul_ok=False)
    response, got = _post_and_read_back(xapi, statement, ascii_only, put)
    assert_answer(response, accepted, value)
    if accepted:
        assert got.status_code == 200
        read_back = json.loads(got.data)  # strict enough: it must be JSON at all
        assert json_equal(value, read_back["result"]["extensions"][EXTENSION])
    else:
        assert got.status_code == 404
        assert response.get_json()["error"].get("path"), response.data[:300]


@PROPERTY_SETTINGS
@given(raw=numbers, scaled=numbers, name=texts, response_text=texts, ascii_only=st.booleans())
def test_scores_and_texts_are_stored_exactly_or_refused(app, xapi, raw, scaled, name, response_text, ascii_only):
    statement = make_statement(id=str(uuid.uuid4()), result={"score": {"raw": raw}, "response": response_text})
    statement["actor"]["name"] = name
    if -1 <= scaled <= 1:
        statement["result"]["score"]["scaled"] = scaled
    accepted = all(storable(v, nul_ok=False) for v in (raw, name, response_text))
    response, got = _post_and_read_back(xapi, statement, ascii_only, put=False)
    assert_answer(response, accepted, statement)
    if accepted:
        read_back = json.loads(got.data)
        assert json_equal(statement["result"], read_back["result"])
        assert read_back["actor"]["name"] == name


@PROPERTY_SETTINGS
@given(value=values, ascii_only=st.booleans())
def test_multipart_statement_parts_follow_the_same_rules(app, xapi, value, ascii_only):
    statement = make_statement(id=str(uuid.uuid4()), result={"extensions": {EXTENSION: value}})
    boundary = "b0undary"
    body = (
        f"--{boundary}\r\nContent-Type: application/json\r\n\r\n".encode()
        + encode(statement, ascii_only)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = xapi.post("statements", data=body,
                         headers={"Content-Type": f"multipart/mixed; boundary={boundary}"})
    assert_answer(response, storable(value, 3, nul_ok=False), value)


# -- documents --------------------------------------------------------------------------------------

DOCUMENT_RESOURCES = [
    ("activities/state", {"activityId": "http://example.com/a", "agent": AGENT}, "stateId"),
    ("activities/profile", {"activityId": "http://example.com/a"}, "profileId"),
    ("agents/profile", {"agent": AGENT}, "profileId"),
]
resources = st.sampled_from(DOCUMENT_RESOURCES)


def _document_params(resource) -> tuple[str, dict]:
    path, params, id_name = resource
    return path, {**params, id_name: str(uuid.uuid4())}


@PROPERTY_SETTINGS
@given(resource=resources, value=values, ascii_only=st.booleans())
def test_json_documents_are_stored_exactly_or_refused(app, xapi, resource, value, ascii_only):
    path, params = _document_params(resource)
    body = encode(value, ascii_only)
    response = xapi.put(path, query=params, data=body,
                        headers={"Content-Type": "application/json", "If-None-Match": "*"})
    accepted = storable(value)
    assert_answer(response, accepted, value)
    got = xapi.get(path, query=params)
    if accepted:
        assert got.data == body
        assert json_equal(value, json.loads(got.data))
    else:
        assert got.status_code == 404


@PROPERTY_SETTINGS
@given(resource=resources, first=st.dictionaries(texts, json_values, max_size=4),
       second=st.one_of(st.dictionaries(texts, values, max_size=4), values), ascii_only=st.booleans())
def test_json_documents_merge_exactly_or_refuse_and_keep_the_old_one(app, xapi, resource, first, second, ascii_only):
    path, params = _document_params(resource)
    headers = {"Content-Type": "application/json"}
    created = xapi.post(path, query=params, data=encode(first, True), headers=headers)
    assert_answer(created, storable(first), first)
    if created.status_code != 204:
        return
    merged = xapi.post(path, query=params, data=encode(second, ascii_only), headers=headers)
    accepted = isinstance(second, dict) and storable(second)
    assert_answer(merged, accepted, second)
    got = xapi.get(path, query=params)
    assert got.status_code == 200
    assert json_equal({**first, **second} if accepted else first, json.loads(got.data))


@PROPERTY_SETTINGS
@given(resource=resources, content=st.binary(max_size=3000),
       content_type=st.sampled_from(["text/plain", "application/octet-stream", "image/png",
                                     "text/plain; charset=utf-8", "application/xml"]))
def test_other_documents_round_trip_byte_for_byte(app, xapi, resource, content, content_type):
    path, params = _document_params(resource)
    response = xapi.put(path, query=params, data=content,
                        headers={"Content-Type": content_type, "If-None-Match": "*"})
    assert response.status_code == 204, response.data[:300]
    got = xapi.get(path, query=params)
    assert got.data == content
    assert got.headers["Content-Type"] == content_type


# -- query strings ----------------------------------------------------------------------------------



def edgy(low: int, high: int) -> st.SearchStrategy[int]:
    """An integer in [low, high], the ends and their neighbours often."""
    return st.one_of(st.sampled_from([low, low + 1, high - 1, high]), st.integers(low, high))


timestamps = st.builds(
    "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}{}".format,
    edgy(0, 9999), edgy(0, 13), edgy(0, 32), edgy(0, 25), edgy(0, 61), edgy(0, 61),
    st.sampled_from(["", ".5", ",1234567891"]),
    st.one_of(st.sampled_from(["Z", "", "-00:00", "+2400"]),
              st.builds("{}{:02d}:{:02d}".format, st.sampled_from("+-"), st.integers(0, 25), st.integers(0, 61))),
)
whole_numbers = st.one_of(
    st.integers().map(str),
    st.integers(0, 6000).map(lambda n: "9" * n),  # past int()'s 4300 digits
    st.text(st.characters(categories=["Nd", "No", "Nl"]), min_size=1, max_size=3),  # "²", "٣": isdigit() or not
)
agents = st.one_of(
    values.map(json.dumps),
    st.builds(lambda name, home: json.dumps({"account": {"homePage": home, "name": name}}), texts,
              st.sampled_from(["http://example.com", "x", ""])),
    st.builds(lambda mbox: json.dumps({"mbox": mbox}), texts.map("mailto:{}@example.com".format)),
)
iris = st.one_of(texts.map("http://example.com/{}".format), texts)
any_text = st.one_of(texts, st.binary(max_size=20))  # bytes: any percent-escape, UTF-8 or not
bools = st.one_of(st.sampled_from(["true", "false", "TRUE", ""]), texts)
STATEMENT_PARAMETERS = {
    "agent": agents, "verb": iris, "activity": iris, "registration": st.one_of(st.uuids().map(str), texts),
    "related_activities": bools, "related_agents": bools, "since": timestamps, "until": timestamps,
    "limit": whole_numbers, "format": st.one_of(st.sampled_from(["ids", "exact", "canonical"]), texts),
    "attachments": bools, "ascending": bools, "statementId": st.one_of(st.uuids().map(str), texts),
    "voidedStatementId": st.one_of(st.uuids().map(str), texts),
}
DOCUMENT_PARAMETERS = {
    "agent": agents, "activityId": iris, "stateId": any_text, "profileId": any_text,
    "registration": st.one_of(st.uuids().map(str), texts), "since": timestamps,
}


def _quoted(value: str | bytes) -> str:
    if isinstance(value, bytes):
        return quote_from_bytes(value, safe="")
    return quote(value, safe="", errors="surrogatepass")  # an unpaired surrogate becomes %ED%B2%80


def query_strings(parameters: dict) -> st.SearchStrategy[str]:
    """Some of ``parameters`` with values of their kind, now and then a stray one, as a raw query string."""
    known = st.fixed_dictionaries({}, optional=parameters)
    stray = st.lists(st.tuples(any_text, any_text), max_size=2)
    return st.builds(
        lambda chosen, extra: "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in [*chosen.items(), *extra]),
        known, stray,
    )


def _get(xapi, path: str, query: str):
    return xapi.client.get(f"/xapi/{path}?{query}",
                           headers={"Authorization": xapi.auth, "X-Experience-API-Version": "2.0.0"})


@PROPERTY_SETTINGS
@given(query=query_strings(STATEMENT_PARAMETERS))
# Found before: valid ISO 8601 before UTC's first moment, and a digit int() refuses.
@example(query="since=0001-01-01T00%3A00%3A00%2B01%3A00")
@example(query="until=9999-12-31T23%3A59%3A59-01%3A00")
@example(query="limit=%C2%B2")
def test_statement_queries_never_fail(app, xapi, query):
    response = _get(xapi, "statements", query)
    assert response.status_code < 500, (response.status_code, response.data[:300])
    if response.mimetype == "application/json":
        json.loads(response.data)
    else:  # attachments=true: multipart/mixed with the statements first
        assert response.status_code == 200 and response.mimetype == "multipart/mixed", response.headers


@PROPERTY_SETTINGS
@given(path=st.sampled_from(["activities/state", "activities/profile", "agents/profile", "activities", "agents"]),
       query=query_strings(DOCUMENT_PARAMETERS), method=st.sampled_from(["GET", "PUT", "POST", "DELETE"]))
def test_document_and_lookup_requests_never_fail(app, xapi, path, query, method):
    response = xapi.client.open(f"/xapi/{path}?{query}", method=method, data=b"{}", headers={
        "Authorization": xapi.auth, "X-Experience-API-Version": "2.0.0", "Content-Type": "application/json"})
    assert response.status_code < 500, (response.status_code, response.data[:300])
    if response.status_code >= 400:
        assert json.loads(response.data)["error"]["message"]
