"""Statements resource: storage, immutability, voiding, single lookups, headers."""

from __future__ import annotations

import json

import sqlalchemy as sa
from lrs_helpers import make_statement, new_id

from lms_service.extensions import db
from lms_service.lrs.models import Statement, StatementActivity, StatementAgent

VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def count_statements(app) -> int:
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count()).select_from(Statement)).scalar_one()


def test_post_single_statement_returns_its_id_and_stores_it(app, xapi):
    response = xapi.post_statements(make_statement())
    assert response.status_code == 200, response.get_json()
    ids = response.get_json()
    assert len(ids) == 1
    got = xapi.get("statements", query={"statementId": ids[0]})
    assert got.status_code == 200
    body = got.get_json()
    assert body["id"] == ids[0]
    assert body["verb"]["id"] == "http://adlnet.gov/expapi/verbs/completed"
    assert body["authority"]["account"]["homePage"] == "http://localhost"
    assert "stored" in body and "timestamp" in body
    assert got.headers["X-Experience-API-Version"] == "2.0.0"
    assert "X-Experience-API-Consistent-Through" in got.headers
    assert "Last-Modified" in got.headers


def test_post_batch_keeps_order_and_lookup_rows(app, xapi):
    ids = [new_id(), new_id()]
    batch = [make_statement(id=ids[0]), make_statement(actor="other@example.com", id=ids[1])]
    response = xapi.post_statements(batch)
    assert response.get_json() == ids
    with app.app_context():
        agents = set(db.session.execute(sa.select(StatementAgent.ifi)).scalars())
        activities = set(db.session.execute(sa.select(StatementActivity.activity_id)).scalars())
    assert agents >= {"mbox:mailto:learner@example.com", "mbox:mailto:other@example.com"}
    assert "http://example.com/activities/module-1" in activities


def test_put_with_statement_id(app, xapi):
    statement_id = new_id()
    response = xapi.put("statements", query={"statementId": statement_id}, json_body=make_statement())
    assert response.status_code == 204
    assert xapi.get("statements", query={"statementId": statement_id}).get_json()["id"] == statement_id


def test_put_with_mismatching_id_is_400(app, xapi):
    response = xapi.put("statements", query={"statementId": new_id()}, json_body=make_statement(id=new_id()))
    assert response.status_code == 400
    assert count_statements(app) == 0


def test_resending_the_same_statement_changes_nothing(app, xapi):
    statement = make_statement(id=new_id(), timestamp="2026-01-01T10:00:00.000Z")
    assert xapi.post_statements(statement).status_code == 200
    again = xapi.post_statements(statement)
    assert again.status_code == 200
    assert count_statements(app) == 1


def test_conflicting_id_is_409_and_keeps_the_original(app, xapi):
    statement_id = new_id()
    xapi.post_statements(make_statement(id=statement_id))
    response = xapi.post_statements(
        make_statement(id=statement_id, verb="http://adlnet.gov/expapi/verbs/failed")
    )
    assert response.status_code == 409
    stored = xapi.get("statements", query={"statementId": statement_id}).get_json()
    assert stored["verb"]["id"].endswith("/completed")


def test_invalid_statement_in_batch_stores_nothing_and_names_the_path(app, xapi):
    bad = make_statement()
    bad["verb"] = {"id": "not an iri"}
    response = xapi.post_statements([make_statement(), bad])
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["path"].startswith("[1].verb")
    assert count_statements(app) == 0


def test_duplicate_ids_in_one_batch_are_refused(app, xapi):
    statement_id = new_id()
    response = xapi.post_statements([make_statement(id=statement_id), make_statement(id=statement_id)])
    assert response.status_code == 400
    assert count_statements(app) == 0


def test_voiding_hides_the_target_but_keeps_it_under_voidedStatementId(app, xapi):
    target = new_id()
    xapi.post_statements(make_statement(id=target))
    voiding = make_statement(verb=VOIDED)
    voiding["object"] = {"objectType": "StatementRef", "id": target}
    assert xapi.post_statements(voiding).status_code == 200
    assert xapi.get("statements", query={"statementId": target}).status_code == 404
    voided = xapi.get("statements", query={"voidedStatementId": target})
    assert voided.status_code == 200 and voided.get_json()["id"] == target
    listed = xapi.get("statements").get_json()["statements"]
    assert [s["verb"]["id"] for s in listed] == [VOIDED]


def test_voiding_statement_arriving_before_its_target(app, xapi):
    target = new_id()
    voiding = make_statement(verb=VOIDED)
    voiding["object"] = {"objectType": "StatementRef", "id": target}
    xapi.post_statements(voiding)
    xapi.post_statements(make_statement(id=target))
    assert xapi.get("statements", query={"statementId": target}).status_code == 404
    assert xapi.get("statements", query={"voidedStatementId": target}).status_code == 200


def test_a_voiding_statement_cannot_be_voided(app, xapi):
    target = new_id()
    xapi.post_statements(make_statement(id=target))
    first = make_statement(verb=VOIDED, id=new_id())
    first["object"] = {"objectType": "StatementRef", "id": target}
    xapi.post_statements(first)
    second = make_statement(verb=VOIDED)
    second["object"] = {"objectType": "StatementRef", "id": first["id"]}
    xapi.post_statements(second)
    assert xapi.get("statements", query={"statementId": first["id"]}).status_code == 200


def test_unknown_statement_is_404_json(app, xapi):
    response = xapi.get("statements", query={"statementId": new_id()})
    assert response.status_code == 404
    assert response.get_json()["error"]["status"] == 404


def test_head_has_headers_but_no_body(app, xapi):
    ids = xapi.post_statements(make_statement()).get_json()
    response = xapi.request("HEAD", "statements", query={"statementId": ids[0]})
    assert response.status_code == 200
    assert response.data == b""
    assert response.headers["X-Experience-API-Version"] == "2.0.0"


def test_version_is_stored_with_the_statement(app, xapi, xapi_103):
    first = xapi.post_statements(make_statement()).get_json()[0]
    second = xapi_103.post_statements(make_statement()).get_json()[0]
    with app.app_context():
        versions = dict(db.session.execute(sa.select(Statement.statement_id, Statement.version)).all())
    assert versions == {first: "2.0.0", second: "1.0.3"}


def test_about_needs_no_credentials(client):
    response = client.get("/xapi/about")
    assert response.status_code == 200
    assert {"2.0.0", "1.0.3"} <= set(response.get_json()["version"])


def test_statement_body_is_json_in_the_database(app, xapi):
    statement_id = xapi.post_statements(make_statement()).get_json()[0]
    with app.app_context():
        body = db.session.execute(sa.select(Statement.body)).scalar_one()
    assert body["id"] == statement_id
    assert json.loads(json.dumps(body)) == body
