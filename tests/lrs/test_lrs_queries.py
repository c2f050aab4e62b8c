"""Statement queries: every filter, formats, ordering and ``more`` paging."""

from __future__ import annotations

import json
import time

from lrs_helpers import make_statement, new_id

COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
FAILED = "http://adlnet.gov/expapi/verbs/failed"


def ids_of(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [s["id"] for s in response.get_json()["statements"]]


def agent(email: str) -> str:
    return json.dumps({"mbox": f"mailto:{email}"})


def test_agent_and_verb_filters(app, xapi):
    a = xapi.post_statements(make_statement(actor="a@example.com")).get_json()[0]
    b = xapi.post_statements(make_statement(actor="a@example.com", verb=FAILED)).get_json()[0]
    xapi.post_statements(make_statement(actor="b@example.com"))
    assert set(ids_of(xapi.get("statements", query={"agent": agent("a@example.com")}))) == {a, b}
    assert ids_of(xapi.get("statements", query={"agent": agent("a@example.com"), "verb": COMPLETED})) == [a]


def test_agent_filter_matches_an_agent_object_but_not_instructor_unless_related(app, xapi):
    as_object = make_statement(actor="a@example.com")
    as_object["object"] = {"objectType": "Agent", "mbox": "mailto:t@example.com"}
    first = xapi.post_statements(as_object).get_json()[0]
    with_instructor = make_statement(
        actor="a@example.com", context={"instructor": {"mbox": "mailto:t@example.com"}}
    )
    second = xapi.post_statements(with_instructor).get_json()[0]
    assert ids_of(xapi.get("statements", query={"agent": agent("t@example.com")})) == [first]
    related = xapi.get("statements", query={"agent": agent("t@example.com"), "related_agents": "true"})
    assert set(ids_of(related)) == {first, second}


def test_activity_filter_and_related_activities(app, xapi):
    direct = xapi.post_statements(make_statement(activity="http://example.com/a1")).get_json()[0]
    parent = make_statement(
        activity="http://example.com/a2",
        context={"contextActivities": {"parent": [{"id": "http://example.com/a1"}]}},
    )
    related = xapi.post_statements(parent).get_json()[0]
    assert ids_of(xapi.get("statements", query={"activity": "http://example.com/a1"})) == [direct]
    both = xapi.get("statements", query={"activity": "http://example.com/a1", "related_activities": "true"})
    assert set(ids_of(both)) == {direct, related}


def test_registration_filter(app, xapi):
    registration = new_id()
    wanted = xapi.post_statements(make_statement(context={"registration": registration})).get_json()[0]
    xapi.post_statements(make_statement(context={"registration": new_id()}))
    assert ids_of(xapi.get("statements", query={"registration": registration})) == [wanted]


def test_since_until_and_ascending(app, xapi):
    first = xapi.post_statements(make_statement()).get_json()[0]
    time.sleep(0.01)
    second = xapi.post_statements(make_statement()).get_json()[0]
    stored_first = xapi.get("statements", query={"statementId": first}).get_json()["stored"]
    assert ids_of(xapi.get("statements", query={"since": stored_first})) == [second]
    assert ids_of(xapi.get("statements", query={"until": stored_first})) == [first]
    assert ids_of(xapi.get("statements", query={"ascending": "true"})) == [first, second]
    assert ids_of(xapi.get("statements")) == [second, first]


def test_more_pages_stay_correct_while_statements_arrive(app, xapi):
    posted = [xapi.post_statements(make_statement()).get_json()[0] for _ in range(5)]
    first_page = xapi.get("statements", query={"limit": "2"}).get_json()
    assert [s["id"] for s in first_page["statements"]] == posted[::-1][:2]
    assert first_page["more"].startswith("/xapi/statements/more/")
    xapi.post_statements(make_statement())  # arrives between pages
    seen = [s["id"] for s in first_page["statements"]]
    more = first_page["more"]
    while more:
        page = xapi.client.get(
            more, headers={"Authorization": xapi.auth, "X-Experience-API-Version": "2.0.0"}
        )
        assert page.status_code == 200
        seen += [s["id"] for s in page.get_json()["statements"]]
        more = page.get_json()["more"]
    assert seen == posted[::-1]


def test_ascending_more_pages_do_not_grow(app, xapi):
    posted = [xapi.post_statements(make_statement()).get_json()[0] for _ in range(3)]
    page = xapi.get("statements", query={"limit": "2", "ascending": "true"}).get_json()
    late = xapi.post_statements(make_statement()).get_json()[0]
    rest = xapi.client.get(
        page["more"], headers={"Authorization": xapi.auth, "X-Experience-API-Version": "2.0.0"}
    ).get_json()
    assert [s["id"] for s in page["statements"] + rest["statements"]] == posted
    assert late not in [s["id"] for s in rest["statements"]]


def test_tampered_more_token_is_400(app, xapi):
    response = xapi.get("statements/more/not-a-token")
    assert response.status_code == 400


def test_format_ids_reduces_objects(app, xapi):
    statement = make_statement(actor="a@example.com")
    statement["actor"]["name"] = "Ada"
    statement["object"]["definition"] = {"name": {"en": "Module"}}
    xapi.post_statements(statement)
    result = xapi.get("statements", query={"format": "ids"}).get_json()["statements"][0]
    assert "name" not in result["actor"]
    assert "definition" not in result["object"]
    assert "display" not in result["verb"]


def test_format_canonical_picks_accept_language(app, xapi):
    statement = make_statement()
    statement["verb"]["display"] = {"en-US": "completed", "sv-SE": "slutförde"}
    xapi.post_statements(statement)
    result = xapi.get(
        "statements", query={"format": "canonical"}, headers={"Accept-Language": "sv-SE"}
    ).get_json()["statements"][0]
    assert result["verb"]["display"] == {"sv-SE": "slutförde"}


def test_statement_refs_to_a_match_are_returned(app, xapi):
    target = xapi.post_statements(make_statement(actor="a@example.com")).get_json()[0]
    ref = make_statement(actor="b@example.com", verb="http://example.com/verbs/commented")
    ref["object"] = {"objectType": "StatementRef", "id": target}
    referring = xapi.post_statements(ref).get_json()[0]
    result = ids_of(xapi.get("statements", query={"agent": agent("a@example.com")}))
    assert result == [referring, target]


def test_filters_read_only_their_credentials_statements_with_read_mine(app, client, make_credential, xapi):
    from lrs_helpers import XAPIClient

    key, secret = make_credential("statements/write statements/read/mine")
    mine = XAPIClient(client, key, secret)
    own = mine.post_statements(make_statement()).get_json()[0]
    xapi.post_statements(make_statement())
    assert ids_of(mine.get("statements")) == [own]
    assert len(ids_of(xapi.get("statements"))) == 2


def test_organisation_credentials_see_only_their_organisation(app, client, make_credential):
    from lrs_helpers import XAPIClient

    from lms_service.extensions import db
    from lms_service.orgs.models import Organisation

    with app.app_context():
        orgs = []
        for name, number in (("Org A", "556677-8899"), ("Org B", "559012-3450")):
            org = Organisation(name=name, org_number=number, county="01", kind="vehicle_supplier")
            db.session.add(org)
            orgs.append(org)
        db.session.commit()
        org_ids = [o.id for o in orgs]
    a = XAPIClient(client, *make_credential("all", org=org_ids[0]))
    b = XAPIClient(client, *make_credential("all", org=org_ids[1]))
    ours = a.post_statements(make_statement()).get_json()[0]
    b.post_statements(make_statement())
    assert ids_of(a.get("statements")) == [ours]
    assert a.get("statements", query={"statementId": ours}).status_code == 200
    assert b.get("statements", query={"statementId": ours}).status_code == 404


def test_limit_zero_means_the_server_maximum(app, xapi, monkeypatch):
    from lms_service.lrs import query

    monkeypatch.setattr(query, "DEFAULT_LIMIT", 2)
    monkeypatch.setattr(query, "MAX_LIMIT", 3)
    for _ in range(4):
        xapi.post_statements(make_statement())
    assert len(ids_of(xapi.get("statements"))) == 2
    assert len(ids_of(xapi.get("statements", query={"limit": "0"}))) == 3
    assert len(ids_of(xapi.get("statements", query={"limit": "9"}))) == 3
    first = xapi.get("statements", query={"limit": "0"}).get_json()
    rest = xapi.client.get(
        first["more"], headers={"Authorization": xapi.auth, "X-Experience-API-Version": "2.0.0"}
    )
    assert len(rest.get_json()["statements"]) == 1  # the token keeps limit=0, not the default


def test_limit_is_respected(app, xapi):
    for _ in range(3):
        xapi.post_statements(make_statement())
    assert len(ids_of(xapi.get("statements", query={"limit": "1"}))) == 1
    assert len(ids_of(xapi.get("statements", query={"limit": "0"}))) == 3


def test_format_canonical_uses_the_lrs_definition(app, xapi):
    first = make_statement(activity="http://example.com/canon")
    first["object"]["definition"] = {"name": {"en-US": "Old name", "sv-SE": "Gammalt namn"}}
    xapi.post_statements(first)
    second = make_statement(activity="http://example.com/canon")
    second["object"]["definition"] = {"name": {"en-US": "New name"}}
    xapi.post_statements(second)
    result = xapi.get(
        "statements", query={"format": "canonical", "ascending": "true"}, headers={"Accept-Language": "en-US"}
    ).get_json()["statements"]
    # Both statements show the LRS's current definition, reduced to the requested language.
    assert [s["object"]["definition"]["name"] for s in result] == [{"en-US": "New name"}] * 2
    exact = xapi.get("statements", query={"ascending": "true"}).get_json()["statements"]
    assert exact[0]["object"]["definition"]["name"] == {"en-US": "Old name", "sv-SE": "Gammalt namn"}


def test_a_reference_stored_before_its_target_matches_once_the_target_arrives(app, xapi):
    target_id = new_id()
    ref = make_statement(actor="b@example.com", verb="http://example.com/verbs/commented")
    ref["object"] = {"objectType": "StatementRef", "id": target_id}
    referring = xapi.post_statements(ref).get_json()[0]
    assert ids_of(xapi.get("statements", query={"agent": agent("a@example.com")})) == []
    xapi.post_statements(make_statement(actor="a@example.com", id=target_id))
    result = ids_of(xapi.get("statements", query={"agent": agent("a@example.com"), "verb": COMPLETED}))
    assert set(result) == {referring, target_id}


def test_verb_filter_returns_references_to_matching_statements(app, xapi):
    target = xapi.post_statements(make_statement(verb=FAILED)).get_json()[0]
    ref = make_statement(verb="http://example.com/verbs/commented")
    ref["object"] = {"objectType": "StatementRef", "id": target}
    referring = xapi.post_statements(ref).get_json()[0]
    xapi.post_statements(make_statement())
    assert ids_of(xapi.get("statements", query={"verb": FAILED})) == [referring, target]


def test_agent_activity_and_registration_together(app, xapi):
    registration = new_id()
    wanted = xapi.post_statements(
        make_statement(
            actor="a@example.com", activity="http://example.com/x", context={"registration": registration}
        )
    ).get_json()[0]
    xapi.post_statements(
        make_statement(
            actor="a@example.com", activity="http://example.com/y", context={"registration": registration}
        )
    )
    xapi.post_statements(
        make_statement(
            actor="b@example.com", activity="http://example.com/x", context={"registration": registration}
        )
    )
    query = {
        "agent": agent("a@example.com"),
        "activity": "http://example.com/x",
        "registration": registration,
    }
    assert ids_of(xapi.get("statements", query=query)) == [wanted]


def test_agent_query_pages_with_more(app, xapi):
    posted = [xapi.post_statements(make_statement(actor="a@example.com")).get_json()[0] for _ in range(5)]
    xapi.post_statements(make_statement(actor="b@example.com"))
    seen, more = [], None
    page = xapi.get("statements", query={"agent": agent("a@example.com"), "limit": "2"}).get_json()
    while True:
        seen += [s["id"] for s in page["statements"]]
        more = page["more"]
        if not more:
            break
        page = xapi.client.get(
            more, headers={"Authorization": xapi.auth, "X-Experience-API-Version": "2.0.0"}
        ).get_json()
    assert seen == posted[::-1]
