"""Queries by activity read the rows of ``related`` = false and, with related_activities, those of related =
true as two ordered ranges merged page by page: every match once, in order, across ``more`` pages."""

from __future__ import annotations

import pytest
from lrs_helpers import make_statement, new_id

A = "http://example.com/courses/a"
COMMENTED = "http://example.com/verbs/commented"
HEADERS = {"X-Experience-API-Version": "2.0.0"}


def _all_pages(xapi, query: dict) -> list[str]:
    page = xapi.get("statements", query=query)
    assert page.status_code == 200, page.get_json()
    page = page.get_json()
    seen = [s["id"] for s in page["statements"]]
    while page["more"]:
        page = xapi.client.get(page["more"], headers={"Authorization": xapi.auth, **HEADERS}).get_json()
        seen += [s["id"] for s in page["statements"]]
    return seen


def _as_parent(**extra) -> dict:
    return make_statement(
        activity="http://example.com/lessons/1", context={"contextActivities": {"parent": [{"id": A}]}}, **extra
    )


@pytest.mark.parametrize("limit", ["1", "2", "3", "100"])
@pytest.mark.parametrize("ascending", [False, True])
def test_direct_and_context_matches_interleave_in_stored_order_across_pages(app, xapi, limit, ascending):
    posted = []
    for i in range(7):  # object, parent, parent, object, parent, object, object
        statement = make_statement(activity=A) if i in (0, 3, 5, 6) else _as_parent()
        posted.append(xapi.post_statements(statement).get_json()[0])
    order = posted if ascending else posted[::-1]
    direct = [posted[i] for i in (0, 3, 5, 6)]
    query = {"activity": A, "limit": limit, "ascending": str(ascending).lower()}
    assert _all_pages(xapi, {**query, "related_activities": "true"}) == order
    assert _all_pages(xapi, query) == (direct if ascending else direct[::-1])


def test_a_statement_that_matches_through_both_ranges_is_returned_once(app, xapi):
    target = xapi.post_statements(make_statement(activity=A)).get_json()[0]
    # Its own context names A (a related row, verb commented); its target has A as object (a direct row,
    # the target's verb): the statement is in both ranges of related_activities.
    ref = _as_parent(verb=COMMENTED)
    ref["object"] = {"objectType": "StatementRef", "id": target}
    referring = xapi.post_statements(ref).get_json()[0]
    later = xapi.post_statements(_as_parent()).get_json()[0]
    for limit in ("1", "2", "100"):
        query = {"activity": A, "related_activities": "true", "limit": limit}
        assert _all_pages(xapi, query) == [later, referring, target]
        assert _all_pages(xapi, {"activity": A, "limit": limit}) == [referring, target]


def test_activity_and_registration_find_references_whose_target_has_the_registration(app, xapi):
    registration = new_id()
    target = xapi.post_statements(make_statement(activity=A, context={"registration": registration})).get_json()[0]
    # The references have another registration (or none): they match through their target's rows.
    ref = make_statement(verb=COMMENTED, context={"registration": new_id()})
    ref["object"] = {"objectType": "StatementRef", "id": target}
    referring = xapi.post_statements(ref).get_json()[0]
    ref_of_ref = make_statement(verb=COMMENTED)
    ref_of_ref["object"] = {"objectType": "StatementRef", "id": referring}
    second = xapi.post_statements(ref_of_ref).get_json()[0]
    xapi.post_statements(make_statement(activity=A, context={"registration": new_id()}))
    for related in ("false", "true"):
        query = {"activity": A, "registration": registration, "related_activities": related}
        assert _all_pages(xapi, query) == [second, referring, target]
    voiding = make_statement(verb="http://adlnet.gov/expapi/verbs/voided")
    voiding["object"] = {"objectType": "StatementRef", "id": target}
    voided_by = xapi.post_statements(voiding).get_json()[0]
    # The voided target is gone; what refers to it still answers to its filters.
    assert _all_pages(xapi, {"activity": A, "registration": registration}) == [voided_by, second, referring]
