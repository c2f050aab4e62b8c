"""State, Activity Profile and Agent Profile resources: ETags, merge, 409/412, since, listings, delete."""

from __future__ import annotations

import json

from lrs_helpers import new_id

ACTIVITY = "http://example.com/activities/module-1"
AGENT = json.dumps({"objectType": "Agent", "mbox": "mailto:learner@example.com"})


def state_params(**extra) -> dict:
    return {"activityId": ACTIVITY, "agent": AGENT, "stateId": "bookmark", **extra}


def test_state_put_get_with_etag_and_last_modified(app, xapi_103):
    response = xapi_103.put(
        "activities/state", query=state_params(), data=b"page-7", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 204
    got = xapi_103.get("activities/state", query=state_params())
    assert got.status_code == 200
    assert got.data == b"page-7"
    assert got.headers["Content-Type"].startswith("text/plain")
    assert got.headers["ETag"].startswith('"') and got.headers["ETag"].endswith('"')
    assert "Last-Modified" in got.headers


def test_state_post_merges_json_objects(app, xapi):
    xapi.post("activities/state", query=state_params(), json_body={"a": 1, "b": 1})
    xapi.post("activities/state", query=state_params(), json_body={"b": 2, "c": 3})
    assert xapi.get("activities/state", query=state_params()).get_json() == {"a": 1, "b": 2, "c": 3}


def test_state_post_merge_with_non_json_is_400_and_changes_nothing(app, xapi_103):
    xapi_103.put(
        "activities/state", query=state_params(), data=b"plain", headers={"Content-Type": "text/plain"}
    )
    response = xapi_103.post("activities/state", query=state_params(), json_body={"a": 1})
    assert response.status_code == 400
    assert xapi_103.get("activities/state", query=state_params()).data == b"plain"


def test_state_post_of_json_that_is_not_an_object_is_400(app, xapi):
    response = xapi.post(
        "activities/state", query=state_params(), data=b"[1,2]", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400


def test_state_ids_listing_with_since_and_registration(app, xapi):
    registration = new_id()
    for state_id in ("one", "two"):
        xapi.post("activities/state", query=state_params(stateId=state_id), json_body={"x": state_id})
    xapi.post(
        "activities/state", query=state_params(stateId="three", registration=registration), json_body={}
    )
    listing = xapi.get("activities/state", query={"activityId": ACTIVITY, "agent": AGENT})
    assert sorted(listing.get_json()) == ["one", "two"]
    with_registration = xapi.get(
        "activities/state", query={"activityId": ACTIVITY, "agent": AGENT, "registration": registration}
    )
    assert with_registration.get_json() == ["three"]
    future = xapi.get(
        "activities/state", query={"activityId": ACTIVITY, "agent": AGENT, "since": "2999-01-01T00:00:00Z"}
    )
    assert future.get_json() == []


def test_state_delete_one_and_all(app, xapi):
    for state_id in ("one", "two", "three"):
        xapi.post("activities/state", query=state_params(stateId=state_id), json_body={})
    assert xapi.delete("activities/state", query=state_params(stateId="one")).status_code == 204
    assert xapi.get("activities/state", query=state_params(stateId="one")).status_code == 404
    assert xapi.delete("activities/state", query={"activityId": ACTIVITY, "agent": AGENT}).status_code == 204
    assert xapi.get("activities/state", query={"activityId": ACTIVITY, "agent": AGENT}).get_json() == []


def test_profile_put_over_existing_without_precondition_is_409(app, xapi):
    params = {"activityId": ACTIVITY, "profileId": "p1"}
    assert xapi.put("activities/profile", query=params, json_body={"v": 1}).status_code == 204
    response = xapi.put("activities/profile", query=params, json_body={"v": 2})
    assert response.status_code == 409
    assert response.get_json()["error"]["message"]
    assert xapi.get("activities/profile", query=params).get_json() == {"v": 1}


def test_profile_if_match_and_if_none_match(app, xapi):
    params = {"activityId": ACTIVITY, "profileId": "p1"}
    xapi.put("activities/profile", query=params, json_body={"v": 1}, headers={"If-None-Match": "*"})
    etag = xapi.get("activities/profile", query=params).headers["ETag"]
    wrong = xapi.put("activities/profile", query=params, json_body={"v": 2}, headers={"If-Match": '"nope"'})
    assert wrong.status_code == 412
    exists = xapi.put("activities/profile", query=params, json_body={"v": 2}, headers={"If-None-Match": "*"})
    assert exists.status_code == 412
    ok = xapi.put("activities/profile", query=params, json_body={"v": 2}, headers={"If-Match": etag})
    assert ok.status_code == 204
    assert xapi.get("activities/profile", query=params).get_json() == {"v": 2}
    stale = xapi.delete("activities/profile", query=params, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert xapi.get("activities/profile", query=params).status_code == 200


def test_agent_profile_round_trip_and_listing(app, xapi):
    params = {"agent": AGENT, "profileId": "prefs"}
    assert xapi.put("agents/profile", query=params, json_body={"lang": "sv"}).status_code == 204
    assert xapi.get("agents/profile", query=params).get_json() == {"lang": "sv"}
    assert xapi.get("agents/profile", query={"agent": AGENT}).get_json() == ["prefs"]
    assert xapi.delete("agents/profile", query=params).status_code == 204
    assert xapi.get("agents/profile", query=params).status_code == 404


def test_document_parameters_are_checked(app, xapi):
    assert xapi.get("activities/state", query={"agent": AGENT, "stateId": "x"}).status_code == 400
    bad_agent = xapi.get(
        "activities/state", query={"activityId": ACTIVITY, "agent": "not json", "stateId": "x"}
    )
    assert bad_agent.status_code == 400
    bad_registration = xapi.get("activities/state", query=state_params(registration="nope"))
    assert bad_registration.status_code == 400
    bad_since = xapi.get(
        "activities/state", query={"activityId": ACTIVITY, "agent": AGENT, "since": "yesterday"}
    )
    assert bad_since.status_code == 400


def test_activities_and_agents_resources(app, xapi):
    from lrs_helpers import make_statement

    statement = make_statement()
    statement["object"]["definition"] = {"name": {"en-US": "Module one"}}
    xapi.post_statements(statement)
    statement = make_statement()
    statement["object"]["definition"] = {"name": {"sv-SE": "Modul ett"}}
    xapi.post_statements(statement)
    activity = xapi.get("activities", query={"activityId": ACTIVITY}).get_json()
    assert activity["id"] == ACTIVITY
    assert activity["definition"]["name"] == {"en-US": "Module one", "sv-SE": "Modul ett"}
    person = xapi.get("agents", query={"agent": AGENT}).get_json()
    assert person == {"objectType": "Person", "mbox": ["mailto:learner@example.com"]}
