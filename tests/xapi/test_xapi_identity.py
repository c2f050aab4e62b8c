"""IFI keys, the agent/activity sets behind the query filters, and statement equivalence."""

from __future__ import annotations

import copy

import pytest

from xapi.identity import (
    activities_in,
    actor_ifi,
    actor_ifis,
    actors_in,
    normalise_mbox,
    statements_equivalent,
)

ANNA = {"objectType": "Agent", "mbox": "mailto:anna@example.se"}
BO = {"mbox_sha1sum": "cd9b00a5611f94eaa7b1661edab976068e364975"}
CEM = {"openid": "http://openid.example.org/cem"}
DAN = {"account": {"homePage": "https://lms.example.se", "name": "dan"}}
EVA = {"mbox": "mailto:eva@example.se"}
FIA = {"mbox": "mailto:fia@example.se"}
TEAM = {"objectType": "Group", "mbox": "mailto:team@example.se", "member": [EVA, FIA]}
ANON = {"objectType": "Group", "member": [BO, CEM]}
AUTHORITY = {"objectType": "Agent", "account": {"homePage": "https://lms.example.se/clients", "name": "player"}}


@pytest.mark.parametrize("obj,key", [
    ({"mbox": "mailto:a@b.se"}, "mbox:mailto:a@b.se"),
    ({"mbox": "mailto:Anna.S@Example.SE"}, "mbox:mailto:Anna.S@example.se"),
    ({"mbox_sha1sum": "CD9B00A5611F94EAA7B1661EDAB976068E364975"},
     "mbox_sha1sum:cd9b00a5611f94eaa7b1661edab976068e364975"),
    ({"openid": "http://openid.example.org/1"}, "openid:http://openid.example.org/1"),
    ({"account": {"homePage": "https://x.se", "name": "a|b"}}, "account:https://x.se|a|b"),
    ({"objectType": "Group", "mbox": "mailto:g@x.se", "member": [EVA]}, "mbox:mailto:g@x.se"),
    (ANON, None),
    ({"name": "nobody"}, None),
    ("mailto:a@b.se", None),
    (None, None),
])
def test_actor_ifi(obj, key):
    assert actor_ifi(obj) == key


def test_normalise_mbox():
    assert normalise_mbox("MAILTO:Bob@EXAMPLE.com") == "mailto:Bob@example.com"
    assert normalise_mbox("mailto:nobody") == "mailto:nobody"


def test_actor_ifis_includes_group_members():
    assert actor_ifis(TEAM) == {"mbox:mailto:team@example.se", "mbox:mailto:eva@example.se",
                                "mbox:mailto:fia@example.se"}
    assert actor_ifis(ANON) == {actor_ifi(BO), actor_ifi(CEM)}
    assert actor_ifis(ANNA) == {"mbox:mailto:anna@example.se"}


def _statement(**parts):
    base = {
        "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
        "actor": ANNA,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/attended"},
        "object": {"id": "http://x.se/a/1"},
        "authority": AUTHORITY,
    }
    base.update(parts)
    return base


def ifis(*agents):
    found = set()
    for agent in agents:
        found |= actor_ifis(agent)
    return found


def test_actors_actor_only():
    stmt = _statement(context={"instructor": DAN, "team": TEAM})
    assert actors_in(stmt, related=False) == ifis(ANNA)
    assert actors_in(stmt, related=True) == ifis(ANNA, DAN, TEAM, AUTHORITY)


def test_actors_agent_object():
    stmt = _statement(object={"objectType": "Agent", **CEM})
    assert actors_in(stmt, related=False) == ifis(ANNA, CEM)


def test_actors_group_actor_members_match():
    stmt = _statement(actor=ANON, object={"objectType": "Group", **TEAM})
    assert actors_in(stmt, related=False) == ifis(BO, CEM, TEAM)
    assert actor_ifi(EVA) in actors_in(stmt, related=False)


def test_actors_substatement_only_when_related():
    sub = {"objectType": "SubStatement", "actor": DAN, "verb": {"id": "http://x.se/v"},
           "object": {"objectType": "Agent", **EVA}, "context": {"instructor": FIA, "team": ANON}}
    stmt = _statement(object=sub)
    assert actors_in(stmt, related=False) == ifis(ANNA)
    assert actors_in(stmt, related=True) == ifis(ANNA, AUTHORITY, DAN, EVA, FIA, BO, CEM)


def test_actors_context_agents_and_groups_are_related():
    stmt = _statement(context={
        "contextAgents": [{"objectType": "contextAgent", "agent": DAN}],
        "contextGroups": [{"objectType": "contextGroup", "group": TEAM}],
    })
    assert actors_in(stmt, related=False) == ifis(ANNA)
    assert actors_in(stmt, related=True) == ifis(ANNA, AUTHORITY, DAN, TEAM)


def test_actors_oauth_authority_group():
    authority = {"objectType": "Group", "member": [DAN, EVA]}
    stmt = _statement(authority=authority)
    assert actors_in(stmt, related=True) == ifis(ANNA, DAN, EVA)
    assert actors_in(stmt, related=False) == ifis(ANNA)


def test_actors_activity_object_is_not_an_agent():
    stmt = _statement(object={"objectType": "Activity", "id": "mailto:anna@example.se"})
    assert actors_in(stmt, related=False) == ifis(ANNA)


def test_activities_object_only():
    stmt = _statement(context={"contextActivities": {
        "parent": [{"id": "http://x.se/parent"}], "grouping": {"id": "http://x.se/course"},
        "category": [{"id": "http://x.se/cat"}], "other": [{"objectType": "Activity", "id": "http://x.se/other"}]}})
    assert activities_in(stmt, related=False) == {"http://x.se/a/1"}
    assert activities_in(stmt, related=True) == {"http://x.se/a/1", "http://x.se/parent", "http://x.se/course",
                                                 "http://x.se/cat", "http://x.se/other"}


def test_activities_non_activity_objects():
    for obj in ({"objectType": "Agent", **EVA}, {"objectType": "StatementRef", "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee"}):
        assert activities_in(_statement(object=obj), related=True) == set()


def test_activities_substatement():
    sub = {"objectType": "SubStatement", "actor": DAN, "verb": {"id": "http://x.se/v"},
           "object": {"id": "http://x.se/sub"},
           "context": {"contextActivities": {"parent": [{"id": "http://x.se/subparent"}]}}}
    stmt = _statement(object=sub)
    assert activities_in(stmt, related=False) == set()
    assert activities_in(stmt, related=True) == {"http://x.se/sub", "http://x.se/subparent"}


# --------------------------------------------------------------------------- equivalence

SIGNED = {
    "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
    "actor": {"objectType": "Agent", "mbox": "mailto:xapi@adlnet.gov", "name": "xAPI"},
    "verb": {"id": "http://adlnet.gov/expapi/verbs/attended", "display": {"en-GB": "attended"}},
    "object": {"objectType": "Activity", "id": "http://www.example.com/meetings/34534",
               "definition": {"name": {"en": "Meeting"}}},
    "result": {"duration": "PT1.234S"},
    "context": {"contextActivities": {"parent": {"id": "http://x.se/p"}}, "team": TEAM},
    "timestamp": "2023-05-04T12:00:00-05:00",
}


def test_equivalent_to_itself():
    assert statements_equivalent(SIGNED, copy.deepcopy(SIGNED))


@pytest.mark.parametrize("change", [
    lambda s: s.update(stored="2026-01-01T00:00:00Z", authority=AUTHORITY, version="2.0.0"),
    lambda s: s.pop("id"),
    lambda s: s.pop("timestamp"),
    lambda s: s.update(timestamp="2023-05-04T17:00:00.000Z"),
    lambda s: s.update(attachments=[{"usageType": "http://adlnet.gov/expapi/attachments/signature"}]),
    lambda s: s["verb"].update(display={"sv": "deltog"}),
    lambda s: s["object"].pop("definition"),
    lambda s: s["object"].pop("objectType"),
    lambda s: s["actor"].pop("objectType"),
    lambda s: s["actor"].update(mbox="mailto:xapi@ADLNET.gov"),
    lambda s: s["context"]["team"].update(member=[FIA, EVA]),
    lambda s: s["context"]["contextActivities"].update(parent=[{"objectType": "Activity", "id": "http://x.se/p"}]),
    lambda s: s["result"].update(duration="PT1.23S"),
])
def test_equivalent_despite_immutability_exceptions(change):
    other = copy.deepcopy(SIGNED)
    change(other)
    assert statements_equivalent(SIGNED, other)
    assert statements_equivalent(other, SIGNED)


@pytest.mark.parametrize("change", [
    lambda s: s.update(id="00000000-3ef0-4ed3-8b37-7f3964730bee"),
    lambda s: s.update(timestamp="2023-05-04T12:00:00Z"),
    lambda s: s["actor"].update(name="Someone else"),
    lambda s: s["actor"].update(mbox="mailto:XAPI@adlnet.gov"),
    lambda s: s["verb"].update(id="http://adlnet.gov/expapi/verbs/passed"),
    lambda s: s["object"].update(id="http://www.example.com/meetings/1"),
    lambda s: s["result"].update(duration="PT1.3S"),
    lambda s: s["result"].update(success=True),
    lambda s: s.pop("context"),
    lambda s: s["context"]["team"].update(member=[EVA]),
])
def test_not_equivalent(change):
    other = copy.deepcopy(SIGNED)
    change(other)
    assert not statements_equivalent(SIGNED, other)


def test_equivalent_stored_copies_of_a_statement_without_timestamp():
    from xapi.formatting import prepare_for_storage

    sent = {k: v for k, v in SIGNED.items() if k != "timestamp"}
    first = prepare_for_storage(sent, version="2.0.0", authority=None, stored="2026-01-01T00:00:00.000Z")
    again = prepare_for_storage(sent, version="2.0.0", authority=None, stored="2026-01-02T00:00:00.000Z")
    assert statements_equivalent(first, again)
    assert statements_equivalent(first, {**sent, "id": sent["id"].upper()})
    changed = prepare_for_storage({**sent, "result": {"duration": "PT2S"}}, version="2.0.0", authority=None,
                                  stored="2026-01-02T00:00:00.000Z")
    assert not statements_equivalent(first, changed)
