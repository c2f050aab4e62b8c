"""Every mutation of a valid statement gets 200 or a 4xx JSON error, never a 500."""

from __future__ import annotations

import copy
import json

from lrs_helpers import make_statement

LONG_IRI = "http://example.com/" + "a" * 5000
ODD_VALUES = [
    None,
    0,
    -1,
    1e308,
    "x",
    "",
    [],
    {},
    True,
    [None],
    {"": ""},
    "mailto:",
    "http://",
    "\u0000",
    LONG_IRI,
    "mailto:" + "a" * 3000 + "@example.com",
]


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, prefix + (index,))


def _replace(statement, path, new):
    result = copy.deepcopy(statement)
    target = result
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return result


def rich_statement() -> dict:
    return make_statement(
        id="f4b2d5a6-1c3e-4e8f-9a0b-1c2d3e4f5a6b",
        result={"score": {"scaled": 0.5, "raw": 5, "min": 0, "max": 10}, "success": True, "duration": "PT1M"},
        context={
            "registration": "0b6e2c1a-5d4f-4a3b-8c2d-1e0f9a8b7c6d",
            "language": "sv-SE",
            "instructor": {"mbox": "mailto:teacher@example.com"},
            "contextActivities": {"parent": [{"id": "http://example.com/course"}]},
            "extensions": {"http://example.com/ext": {"a": 1}},
        },
        timestamp="2026-01-01T10:00:00.000Z",
    )


def test_mutated_statements_never_cause_a_server_error(app, xapi):
    base = rich_statement()
    statuses = set()
    for path in list(_paths(base))[1:]:
        for odd in ODD_VALUES:
            response = xapi.post_statements(_replace(base, path, odd))
            assert response.status_code < 500, (path, odd, response.data[:300])
            if response.status_code >= 400:
                assert response.get_json()["error"]["message"]
            statuses.add(response.status_code)
    assert 400 in statuses  # the mutations did reach the validator


def test_non_finite_numbers_are_refused(app, xapi):
    body = json.dumps(rich_statement()).replace('"scaled": 0.5', '"scaled": NaN')
    response = xapi.post("statements", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_odd_query_parameters_never_cause_a_server_error(app, xapi):
    xapi.post_statements(make_statement())
    names = [
        "statementId",
        "voidedStatementId",
        "agent",
        "verb",
        "activity",
        "registration",
        "related_activities",
        "related_agents",
        "since",
        "until",
        "limit",
        "format",
        "attachments",
        "ascending",
    ]
    values = [
        "",
        "x",
        "-1",
        "99999999999999999999999",
        "true",
        "{}",
        "[]",
        '{"mbox": 1}',
        "null",
        "\u00e5\u00e4",
        '{"objectType": "Group", "member": []}',
        "2026-13-45T99:99:99Z",
        LONG_IRI,
        json.dumps({"mbox": "mailto:" + "a" * 3000 + "@example.com"}),
    ]
    for name in names:
        for value in values:
            response = xapi.get("statements", query={name: value})
            assert response.status_code < 500, (name, value, response.data[:300])
    for resource, base in (
        ("activities/state", {"activityId": "http://example.com/a", "stateId": "s"}),
        ("activities/profile", {"activityId": "http://example.com/a"}),
        ("agents/profile", {}),
        ("activities", {}),
        ("agents", {}),
    ):
        for name in ("agent", "activityId", "registration", "since", "profileId", "stateId"):
            for value in values:
                for method in ("GET", "PUT", "POST", "DELETE"):
                    response = xapi.request(
                        method,
                        resource,
                        query={**base, name: value},
                        data=b"{}",
                        headers={"Content-Type": "application/json"},
                    )
                    assert response.status_code < 500, (method, resource, name, value, response.data[:300])


def test_odd_document_content_types(app, xapi):
    params = {"activityId": "http://example.com/a", "profileId": "p"}
    for content_type in ("x" * 300, "application/json; " + "a=b; " * 100, "text/plain"):
        response = xapi.post(
            "activities/profile", query=params, data=b"{}", headers={"Content-Type": content_type}
        )
        assert response.status_code < 500, (content_type[:40], response.data[:200])
