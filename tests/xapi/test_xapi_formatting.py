"""prepare_for_storage and the exact / ids / canonical statement formats."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime

import pytest

from xapi.formatting import format_statement, parse_accept_language, pick_language, prepare_for_storage
from xapi.validation import validate_statement

STORED = datetime(2026, 3, 4, 9, 0, 0, 250000, tzinfo=UTC)
AUTHORITY = {"objectType": "Agent", "account": {"homePage": "https://lms.example.se/clients", "name": "player"}}

AGENT = {"objectType": "Agent", "name": "Anna", "mbox": "mailto:anna@example.se"}
GROUP = {"objectType": "Group", "name": "Team", "mbox": "mailto:team@example.se",
         "member": [{"mbox": "mailto:eva@example.se", "name": "Eva"}]}
ANON = {"objectType": "Group", "name": "Pair", "member": [
    {"objectType": "Agent", "name": "Eva", "mbox": "mailto:eva@example.se"},
    {"name": "Bo", "account": {"homePage": "https://x.se", "name": "bo"}}]}
ACTIVITY = {
    "objectType": "Activity",
    "id": "http://www.example.com/meetings/34534",
    "definition": {
        "name": {"en-US": "Meeting", "en-GB": "Meeting (GB)", "sv-SE": "Möte"},
        "description": {"en-US": "A meeting", "sv": "Ett möte"},
        "type": "http://adlnet.gov/expapi/activities/meeting",
        "moreInfo": "http://virtualmeeting.example.com/345256",
        "interactionType": "choice",
        "correctResponsesPattern": ["a"],
        "choices": [{"id": "a", "description": {"en-US": "A", "sv-SE": "Ä"}}, {"id": "b"}],
        "extensions": {"http://example.com/ext": {"en-US": "not a language map"}},
    },
}
VERB = {"id": "http://adlnet.gov/expapi/verbs/attended", "display": {"en-GB": "attended", "en-US": "attended (US)"}}


def _statement():
    return {
        "actor": AGENT,
        "verb": VERB,
        "object": {
            "objectType": "SubStatement", "actor": GROUP, "verb": VERB, "object": ACTIVITY,
            "context": {"contextActivities": {"parent": ACTIVITY}},
        },
        "context": {
            "instructor": ANON,
            "team": GROUP,
            "contextActivities": {"parent": ACTIVITY, "grouping": [{"id": "http://x.se/course"}]},
            "contextAgents": [{"objectType": "contextAgent", "agent": AGENT, "relevantTypes": ["http://x.se/t"]}],
            "contextGroups": [{"objectType": "contextGroup", "group": ANON}],
        },
        "result": {"success": True},
        "authority": AUTHORITY,
    }


# --------------------------------------------------------------------------- prepare_for_storage


def test_prepare_fills_in_assigned_properties():
    stmt = {"actor": AGENT, "verb": VERB, "object": {"id": "http://x.se/a"}}
    before = copy.deepcopy(stmt)
    out = prepare_for_storage(stmt, version="2.0.0", authority=AUTHORITY, stored=STORED)
    assert stmt == before
    assert uuid.UUID(out["id"]).version == 4
    assert out["stored"] == "2026-03-04T09:00:00.250Z"
    assert out["timestamp"] == out["stored"]
    assert out["authority"] == AUTHORITY
    assert out["version"] == "2.0.0"
    validate_statement(out, "2.0.0")


def test_prepare_1_0_3_defaults_version_1_0_0_and_keeps_timestamp_text():
    stmt = {"id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee", "actor": AGENT, "verb": VERB,
            "object": {"id": "http://x.se/a"}, "timestamp": "2023-05-04T12:00:00-05:00"}
    out = prepare_for_storage(stmt, version="1.0.3", authority=None, stored="2026-03-04T09:00:00.000Z")
    assert out["id"] == stmt["id"]
    assert out["version"] == "1.0.0"
    assert out["timestamp"] == "2023-05-04T12:00:00-05:00"
    assert out["stored"] == "2026-03-04T09:00:00.000Z"
    assert "authority" not in out


def test_prepare_2_0_converts_timestamps_to_utc():
    stmt = _statement()
    stmt["timestamp"] = "2023-05-04T12:00:00-05:00"
    stmt["object"]["timestamp"] = "2023-05-04T12:00:00.5+02:00"
    out = prepare_for_storage(stmt, version="2.0.0", authority=None, stored=STORED)
    assert out["timestamp"] == "2023-05-04T17:00:00.000Z"
    assert out["object"]["timestamp"] == "2023-05-04T10:00:00.500Z"
    assert stmt["timestamp"] == "2023-05-04T12:00:00-05:00"
    assert stmt["object"]["timestamp"] == "2023-05-04T12:00:00.5+02:00"


def test_prepare_keeps_sent_version_and_replaces_authority():
    stmt = _statement()
    stmt["version"] = "1.0.0"
    out = prepare_for_storage(stmt, version="2.0.0", authority={"mbox": "mailto:lrs@x.se"}, stored=STORED)
    assert out["version"] == "1.0.0"
    assert out["authority"] == {"mbox": "mailto:lrs@x.se"}


def test_prepare_keeps_authority_when_none_given():
    out = prepare_for_storage(_statement(), version="2.0.0", authority=None, stored=STORED)
    assert out["authority"] == AUTHORITY


def test_prepare_normalises_context_activities_to_arrays():
    stmt = _statement()
    out = prepare_for_storage(stmt, version="1.0.3", authority=None, stored=STORED)
    assert out["context"]["contextActivities"] == {"parent": [ACTIVITY], "grouping": [{"id": "http://x.se/course"}]}
    assert out["object"]["context"]["contextActivities"] == {"parent": [ACTIVITY]}
    assert stmt["context"]["contextActivities"]["parent"] == ACTIVITY  # input untouched


# --------------------------------------------------------------------------- formats


def test_exact_is_unchanged():
    stmt = _statement()
    assert format_statement(stmt, "exact", ["sv"]) == _statement()


def test_ids_format():
    stmt = _statement()
    out = format_statement(stmt, "ids", [])
    assert stmt == _statement()
    assert out["actor"] == {"objectType": "Agent", "mbox": "mailto:anna@example.se"}
    assert out["verb"] == {"id": VERB["id"]}
    sub = out["object"]
    assert sub["objectType"] == "SubStatement"
    assert sub["actor"] == {"objectType": "Group", "mbox": "mailto:team@example.se"}
    assert sub["verb"] == {"id": VERB["id"]}
    assert sub["object"] == {"id": ACTIVITY["id"]}
    assert sub["context"]["contextActivities"]["parent"] == {"id": ACTIVITY["id"]}
    context = out["context"]
    assert context["instructor"] == {"objectType": "Group", "member": [
        {"objectType": "Agent", "mbox": "mailto:eva@example.se"},
        {"account": {"homePage": "https://x.se", "name": "bo"}}]}
    assert context["team"] == {"objectType": "Group", "mbox": "mailto:team@example.se"}
    assert context["contextActivities"] == {"parent": {"id": ACTIVITY["id"]}, "grouping": [{"id": "http://x.se/course"}]}
    assert context["contextAgents"][0] == {"objectType": "contextAgent", "agent": {
        "objectType": "Agent", "mbox": "mailto:anna@example.se"}, "relevantTypes": ["http://x.se/t"]}
    assert context["contextGroups"][0]["group"]["member"][1] == {"account": {"homePage": "https://x.se", "name": "bo"}}
    assert out["authority"] == AUTHORITY
    assert out["result"] == {"success": True}


def test_ids_format_activity_object_and_statement_ref():
    stmt = {"actor": AGENT, "verb": VERB, "object": ACTIVITY}
    assert format_statement(stmt, "ids", [])["object"] == {"id": ACTIVITY["id"]}
    ref = {"objectType": "StatementRef", "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"}
    assert format_statement({**stmt, "object": ref}, "ids", [])["object"] == ref
    agent_object = format_statement({**stmt, "object": AGENT}, "ids", [])["object"]
    assert agent_object == {"objectType": "Agent", "mbox": "mailto:anna@example.se"}


def test_canonical_format_reduces_language_maps():
    stmt = _statement()
    out = format_statement(stmt, "canonical", ["en-GB"])
    assert stmt == _statement()
    assert out["verb"] == {"id": VERB["id"], "display": {"en-GB": "attended"}}
    assert out["actor"] == AGENT  # agents as in exact
    sub_activity = out["object"]["object"]
    assert sub_activity["definition"]["name"] == {"en-GB": "Meeting (GB)"}
    assert sub_activity["definition"]["description"] == {"en-US": "A meeting"}
    assert sub_activity["definition"]["choices"][0]["description"] == {"en-US": "A"}
    assert sub_activity["definition"]["choices"][1] == {"id": "b"}
    assert sub_activity["definition"]["extensions"] == ACTIVITY["definition"]["extensions"]
    assert sub_activity["definition"]["type"] == ACTIVITY["definition"]["type"]
    assert out["object"]["verb"]["display"] == {"en-GB": "attended"}
    assert out["object"]["actor"] == GROUP
    assert out["context"]["contextActivities"]["parent"]["definition"]["name"] == {"en-GB": "Meeting (GB)"}


def test_canonical_swedish():
    out = format_statement({"actor": AGENT, "verb": VERB, "object": ACTIVITY}, "canonical", ["sv-SE", "en"])
    assert out["object"]["definition"]["name"] == {"sv-SE": "Möte"}
    assert out["object"]["definition"]["description"] == {"sv": "Ett möte"}
    assert out["verb"]["display"] == {"en-GB": "attended"}


def test_unknown_format():
    with pytest.raises(ValueError, match="format"):
        format_statement(_statement(), "full", [])


@pytest.mark.parametrize("languages,expected", [
    (["en-GB"], "en-GB"),
    (["EN-gb"], "en-GB"),
    (["en"], "en-US"),
    (["en-AU"], "en-US"),
    (["fr", "sv"], "sv-SE"),
    (["de"], "en-US"),
    ([], "en-US"),
    (["*"], "en-US"),
])
def test_pick_language(languages, expected):
    assert pick_language({"en-US": "a", "en-GB": "b", "sv-SE": "c"}, languages) == expected


def test_pick_language_prefers_primary_tag_and_und():
    assert pick_language({"en-US": "a", "en": "b"}, ["en-AU"]) == "en"
    assert pick_language({"fr": "a", "und": "b"}, ["de"]) == "und"
    assert pick_language({}, ["de"]) is None


@pytest.mark.parametrize("header,expected", [
    (None, []),
    ("", []),
    ("sv-SE", ["sv-SE"]),
    ("sv-SE,sv;q=0.9,en;q=0.8", ["sv-SE", "sv", "en"]),
    ("en;q=0.5, sv", ["sv", "en"]),
    ("fr;q=0, de", ["de"]),
    ("da, en-gb;q=0.8, en;q=0.7", ["da", "en-gb", "en"]),
    ("x;q=abc", []),
])
def test_parse_accept_language(header, expected):
    assert parse_accept_language(header) == expected
