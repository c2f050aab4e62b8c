"""The outbox rows of the ingest transaction, target management (services, CLI, admin page)."""
from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa
from forwarding_helpers import make_statement, outbox

from lms_service.extensions import db
from lms_service.forwarding.models import DEAD, QUEUED, ForwardTarget, OutboxEntry
from lms_service.lrs.ingest import IngestError, register_ingest_hook, unregister_ingest_hook
from lms_service.lrs.models import Statement
from tests.conftest import csrf_token


def test_every_stored_statement_gets_one_row_per_target_in_its_transaction(app, ingest, add_target):
    first = add_target("http://127.0.0.1:1/xapi/")
    second = add_target("http://127.0.0.1:2/xapi/", enabled=False)  # paused targets keep queueing
    registration = str(uuid.uuid4())
    statements = [make_statement(registration, n) for n in range(3)]
    ingest(statements)
    rows = outbox(app)
    assert sorted((r.target_id, r.statement_id) for r in rows) == sorted(
        (t, s["id"]) for t in (first, second) for s in statements)
    assert {r.state for r in rows} == {QUEUED}
    # An identical re-send stores nothing new and queues nothing new.
    ingest(statements[:1])
    assert len(outbox(app)) == 6


def test_no_target_means_no_rows(app, ingest):
    ingest([make_statement(str(uuid.uuid4()))])
    assert outbox(app) == []


def test_a_failing_batch_stores_neither_statements_nor_rows(app, ingest, add_target):
    add_target("http://127.0.0.1:1/xapi/")
    registration = str(uuid.uuid4())
    good = make_statement(registration, 1)
    ingest([good])
    conflicting = {**good, "verb": {"id": "http://adlnet.gov/expapi/verbs/failed"}}
    with pytest.raises(IngestError):
        ingest([make_statement(registration, 2), conflicting])
    assert len(outbox(app)) == 1

    def later_hook_fails(statements):
        raise RuntimeError("a later hook fails")

    register_ingest_hook(later_hook_fails)
    try:
        with pytest.raises(RuntimeError):
            ingest([make_statement(registration, 3)])
    finally:
        unregister_ingest_hook(later_hook_fails)
    assert len(outbox(app)) == 1
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(Statement)).scalar() == 1


def test_filters_by_verb_activity_and_company(app, ingest, add_target, create_org, create_user):
    from lms_service.accounts.models import User
    from lms_service.lrs.clients import authenticate, create_client

    org_a, org_b = create_org("A AB"), create_org("B AB")
    user_id = create_user(email="worker@a.se", organisation=org_a)
    with app.app_context():
        account = db.session.get(User, user_id).xapi_account_name
        _, secret = create_client("org b system", "all", org_b)
        key = db.session.execute(sa.select(sa.text("key")).select_from(sa.text("lrs_clients"))).scalar()
        credential_b = authenticate(key, secret)
    by_verb = add_target("http://127.0.0.1:1/x/", filter_verb="http://adlnet.gov/expapi/verbs/completed")
    by_activity = add_target("http://127.0.0.1:1/x/", filter_activity="https://example.com/modules/m1")
    by_org_a = add_target("http://127.0.0.1:1/x/", filter_organisation_id=org_a)
    by_org_b = add_target("http://127.0.0.1:1/x/", filter_organisation_id=org_b)
    registration = str(uuid.uuid4())
    learner = {"objectType": "Agent", "account": {"homePage": "http://localhost", "name": account}}
    completed = make_statement(registration, 1, actor=learner,
                               verb={"id": "http://adlnet.gov/expapi/verbs/completed"})
    other_module = make_statement(registration, 2, object={"id": "https://example.com/modules/m2"}, context={})
    by_mail = make_statement(registration, 3, actor={"mbox": "mailto:Worker@A.se"})
    ingest([completed, other_module, by_mail])
    from_b = make_statement(registration, 4, context={})
    ingest([from_b], client=credential_b)
    got = {(r.target_id, r.statement_id) for r in outbox(app)}
    assert {s for t, s in got if t == by_verb} == {completed["id"]}
    # The lesson's statements name the module as parent: related activities count.
    assert {s for t, s in got if t == by_activity} == {completed["id"], by_mail["id"]}
    assert {s for t, s in got if t == by_org_a} == {completed["id"], by_mail["id"]}
    assert {s for t, s in got if t == by_org_b} == {from_b["id"]}


@pytest.mark.parametrize("changes, field, message", [
    ({"endpoint": "ftp://lrs.example.com/"}, "endpoint", "http:// or https://"),
    ({"endpoint": "https://u:p@lrs.example.com/"}, "endpoint", "own fields"),
    ({"name": ""}, "name", "name of 1 to 100"),
    ({"key": ""}, "key", "key of 1 to 255"),
    ({"secret": ""}, "secret", "secret of 1 to 1000"),
    ({"xapi_version": "0.95"}, "xapi_version", "xAPI version"),
    ({"filter_verb": "completed"}, "filter_verb", "absolute IRI"),
    ({"filter_organisation_id": 999}, "filter_organisation_id", "no organisation"),
    ({"batch_size": 0}, "batch_size", "1 to 500"),
])
def test_bad_target_settings_are_refused_and_change_nothing(app, changes, field, message):
    from lms_service.forwarding.services import TargetError, create_target

    values = {"name": "oem", "endpoint": "https://lrs.example.com/xapi/", "key": "k", "secret": "s", **changes}
    with app.app_context():
        with pytest.raises(TargetError, match=message) as raised:
            create_target(values.pop("name"), values.pop("endpoint"), values.pop("key"), values.pop("secret"), **values)
        assert raised.value.field == field
        assert db.session.execute(sa.select(sa.func.count()).select_from(ForwardTarget)).scalar() == 0


def test_the_secret_is_stored_encrypted_and_never_listed(app, runner):
    result = runner.invoke(args=["lrs", "targets", "add", "--name", "OEM", "--endpoint", "https://lrs.oem.example/xapi",
                                 "--key", "oemkey", "--secret", "very-secret-value"])
    assert result.exit_code == 0, result.output
    assert "added target OEM" in result.output
    with app.app_context():
        target = db.session.execute(sa.select(ForwardTarget)).scalar_one()
        assert "very-secret-value" not in target.secret_encrypted
        from lms_service.forwarding.crypto import decrypt_secret

        assert decrypt_secret(target.secret_encrypted) == "very-secret-value"
    listed = runner.invoke(args=["lrs", "targets", "list", "--json"])
    assert json.loads(listed.output)[0]["endpoint"] == "https://lrs.oem.example/xapi/"
    assert "very-secret-value" not in listed.output and target.secret_encrypted not in listed.output


def test_cli_refuses_bad_input_with_a_clear_message(app, runner):
    result = runner.invoke(args=["lrs", "targets", "add", "--name", "x", "--endpoint", "ftp://x/", "--key", "k",
                                 "--secret", "s"])
    assert result.exit_code == 2 and "--endpoint: the endpoint URL must start with http:// or https://" in result.output
    result = runner.invoke(args=["lrs", "targets", "pause", "nope"])
    assert result.exit_code == 2 and "no forwarding target 'nope'" in result.output
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(ForwardTarget)).scalar() == 0


def test_cli_manages_targets_and_dead_letters(app, runner, ingest, add_target):
    target_id = add_target("http://127.0.0.1:1/xapi/", name="oem")
    statement = make_statement(str(uuid.uuid4()))
    ingest([statement])
    with app.app_context():
        db.session.execute(sa.update(OutboxEntry).values(state=DEAD, last_error="the target answered 400"))
        db.session.commit()
    status = json.loads(runner.invoke(args=["lrs", "targets", "status", "--json"]).output)
    assert status[0]["name"] == "oem" and status[0]["dead"] == 1 and status[0]["status"] == "dead letters"
    assert runner.invoke(args=["lrs", "targets", "retry-dead", "oem"]).output.strip() == "queued 1 dead letters again"
    assert [r.state for r in outbox(app)] == [QUEUED]
    assert runner.invoke(args=["lrs", "targets", "pause", str(target_id)]).exit_code == 0
    assert json.loads(runner.invoke(args=["lrs", "targets", "list", "--json"]).output)[0]["enabled"] is False
    result = runner.invoke(args=["lrs", "targets", "update", "oem", "--endpoint", "https://new.example/xapi",
                                 "--verb", "http://adlnet.gov/expapi/verbs/completed"])
    assert result.exit_code == 0, result.output
    assert "verb=http://adlnet.gov/expapi/verbs/completed" in result.output
    # A target added later gets the history with backfill, once.
    add_target("http://127.0.0.1:3/xapi/", name="late")
    assert runner.invoke(args=["lrs", "targets", "backfill", "late"]).output.strip() == "queued 1 stored statements"
    assert runner.invoke(args=["lrs", "targets", "backfill", "late"]).output.strip() == "queued 0 stored statements"
    assert runner.invoke(args=["lrs", "targets", "remove", "oem", "--yes"]).exit_code == 0
    assert [r.statement_id for r in outbox(app)] == [statement["id"]]


def test_health_page_is_for_admins_only(app, client, auth, create_user):
    create_user(email="learner@example.se")
    assert client.get("/admin/forwarding/").status_code == 302  # to the login page
    auth.login("learner@example.se")
    assert client.get("/admin/forwarding/").status_code == 403
    assert client.post("/admin/forwarding/targets", data={}).status_code in (400, 403)


def test_admin_adds_a_target_sees_health_and_retries_dead_letters(app, client, auth, create_user, ingest):
    create_user(email="admin@example.se", roles=("admin",))
    auth.login("admin@example.se")
    token = csrf_token(client, "/admin/forwarding/")
    form = {"csrf_token": token, "name": "OEM", "endpoint": "ftp://lrs.oem.example/", "key": "k",
            "secret": "page-secret", "xapi_version": "2.0.0", "organisation": "", "batch_size": "100"}
    response = client.post("/admin/forwarding/targets", data=form)
    assert response.status_code == 400
    assert "must start with http:// or https://" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(ForwardTarget)).scalar() == 0
    response = client.post("/admin/forwarding/targets", data={**form, "endpoint": "https://lrs.oem.example/xapi"})
    assert response.status_code == 302
    ingest([make_statement(str(uuid.uuid4()), n) for n in range(2)])
    with app.app_context():
        first = db.session.execute(sa.select(OutboxEntry).order_by(OutboxEntry.id)).scalars().first()
        first.state, first.last_error = DEAD, "the target answered 400: bad verb"
        target = db.session.execute(sa.select(ForwardTarget)).scalar_one()
        target.failures, target.last_error = 2, "connection refused: the target is down or the port is wrong"
        db.session.commit()
        target_id = target.id
    page = client.get("/admin/forwarding/").get_data(as_text=True)
    assert "OEM" in page and "https://lrs.oem.example/xapi/" in page and "page-secret" not in page
    assert "connection refused" in page and "the target answered 400: bad verb" in page
    row = page[page.index(f'id="target-{target_id}"'):]
    cells = [c.split("</td>")[0] for c in row.split("<td>")[2:7]]
    assert cells == ["1", "0", "0", "0", "1"]  # queued, sending, sent, failed, dead
    response = client.post(f"/admin/forwarding/targets/{target_id}/retry-dead",
                           data={"csrf_token": csrf_token(client, "/admin/forwarding/")})
    assert response.status_code == 302
    assert sorted(r.state for r in outbox(app)) == [QUEUED, QUEUED]
    assert client.post("/admin/forwarding/targets/999/retry-dead",
                       data={"csrf_token": csrf_token(client, "/admin/forwarding/")}).status_code == 404


def test_a_statement_erased_at_the_source_is_never_sent(app, ingest, add_target, run_worker):
    target = add_target("http://127.0.0.1:1/xapi/")
    registration = str(uuid.uuid4())
    kept, erased = make_statement(registration, 1), make_statement(registration, 2)
    ingest([kept, erased])
    with app.app_context():
        db.session.execute(sa.delete(Statement).where(Statement.statement_id == erased["id"]))
        db.session.commit()
    run_worker()
    rows = outbox(app, target)
    assert [r.statement_id for r in rows] == [kept["id"]]
    assert rows[0].state == "failed" and "connection refused" in rows[0].last_error


def test_deleting_a_target_on_the_page_needs_confirmation(app, client, auth, create_user, add_target):
    create_user(email="admin@example.se", roles=("admin",), language="en")
    auth.login("admin@example.se")
    target_id = add_target("http://127.0.0.1:1/xapi/", name="OEM")
    url = f"/admin/forwarding/targets/{target_id}/delete"
    response = client.post(url, data={"csrf_token": csrf_token(client, "/admin/forwarding/")}, follow_redirects=True)
    assert "Tick" in response.get_data(as_text=True) and "OEM" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(ForwardTarget, target_id) is not None
    response = client.post(url, data={"csrf_token": csrf_token(client, "/admin/forwarding/"), "confirm": "y"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(ForwardTarget, target_id) is None
    response = client.post(f"/admin/forwarding/targets/{target_id}/pause",
                           data={"csrf_token": csrf_token(client, "/admin/forwarding/")})
    assert response.status_code == 404
