"""Documents and statement ids under real races: many requests at the same moment, each on its own thread,
test client and database connection (a file SQLite database, or PostgreSQL with TEST_DATABASE_URL).

A barrier releases the requests together; each answer must be one xAPI allows for some order of the requests,
and the stored result must be that order's (no lost update, no merge that answered 204 and vanished).
"""
from __future__ import annotations

import json
import threading
from collections import Counter

import pytest
import sqlalchemy as sa
from lrs_helpers import XAPIClient, make_statement, new_id

from lms_service.extensions import db
from lms_service.lrs.models import Statement
from tests.conftest import IS_POSTGRES

N = 16
AGENT = json.dumps({"objectType": "Agent", "mbox": "mailto:racer@example.com"})
STATE = {"activityId": "http://example.com/activities/race", "agent": AGENT, "stateId": "race"}
PROFILE = {"activityId": "http://example.com/activities/race", "profileId": "race"}


@pytest.fixture
def at_once(app, make_credential):
    """``at_once(request)`` runs ``request(xapi, n)`` on N threads released together; returns the responses
    in thread order. Each thread has its own test client (and so its own app context and connection)."""
    key, secret = make_credential("all")

    def run(request, n: int = N):
        barrier = threading.Barrier(n)
        results: list = [None] * n
        errors: list[BaseException] = []

        def worker(index: int) -> None:
            xapi = XAPIClient(app.test_client(), key, secret)
            try:
                barrier.wait(timeout=30)
                results[index] = request(xapi, index)
            except BaseException as error:  # handed to the test thread below
                errors.append(error)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in threads), "a request hung"
        if errors:
            raise errors[0]
        return results

    return run


def statuses(responses) -> Counter:
    return Counter(response.status_code for response in responses)


@pytest.mark.parametrize(("resource", "params"), [("activities/state", STATE), ("activities/profile", PROFILE)])
def test_simultaneous_puts_with_one_if_match_let_exactly_one_through(xapi, at_once, resource, params):
    created = xapi.put(resource, query=params, data=b'{"round": "start"}',
                       headers={"Content-Type": "application/json", "If-None-Match": "*"})
    assert created.status_code == 204
    etag = created.headers["ETag"]

    responses = at_once(lambda x, i: x.put(resource, query=params, data=json.dumps({"round": i}).encode(),
                                           headers={"Content-Type": "application/json", "If-Match": etag}))
    assert statuses(responses) == Counter({204: 1, 412: N - 1}), [r.get_data(as_text=True) for r in responses]
    winner = next(i for i, r in enumerate(responses) if r.status_code == 204)
    stored = xapi.get(resource, query=params)
    assert stored.get_json() == {"round": winner}
    assert stored.headers["ETag"] == responses[winner].headers["ETag"]


@pytest.mark.parametrize("existing", [True, False], ids=["over-a-document", "creating-it"])
def test_concurrent_post_merges_keep_every_key(xapi, at_once, existing):
    if existing:
        assert xapi.post("activities/state", query=STATE, data=b'{"first": true}',
                         headers={"Content-Type": "application/json"}).status_code == 204

    responses = at_once(lambda x, i: x.post("activities/state", query=STATE, data=json.dumps({f"k{i}": i}).encode(),
                                            headers={"Content-Type": "application/json"}))
    assert statuses(responses) == Counter({204: N}), [r.get_data(as_text=True) for r in responses]
    expected = {f"k{i}": i for i in range(N)} | ({"first": True} if existing else {})
    assert xapi.get("activities/state", query=STATE).get_json() == expected


@pytest.mark.parametrize(("resource", "params"), [("activities/state", STATE), ("agents/profile",
                                                  {"agent": AGENT, "profileId": "race"})])
def test_if_none_match_star_race_creates_once_and_refuses_the_rest_with_412(xapi, at_once, resource, params):
    responses = at_once(lambda x, i: x.put(resource, query=params, data=json.dumps({"creator": i}).encode(),
                                           headers={"Content-Type": "application/json", "If-None-Match": "*"}))
    assert statuses(responses) == Counter({204: 1, 412: N - 1}), [r.get_data(as_text=True) for r in responses]
    winner = next(i for i, r in enumerate(responses) if r.status_code == 204)
    assert xapi.get(resource, query=params).get_json() == {"creator": winner}


def count_stored(app, statement_id: str) -> int:
    with app.app_context():
        n = db.session.execute(sa.select(sa.func.count()).select_from(Statement)
                               .where(Statement.statement_id == statement_id)).scalar_one()
        db.session.remove()
        return n


def test_identical_statements_put_at_once_under_one_id_are_all_accepted_and_stored_once(app, xapi, at_once):
    from lms_service.lrs.ingest import register_ingest_hook, unregister_ingest_hook

    statement_id = new_id()
    statement = make_statement(id=statement_id)
    seen: list[str] = []
    lock = threading.Lock()

    def hook(stored):
        with lock:
            seen.extend(s["id"] for s in stored)

    register_ingest_hook(hook)
    try:
        responses = at_once(lambda x, i: x.put("statements", query={"statementId": statement_id},
                                               json_body=statement))
    finally:
        unregister_ingest_hook(hook)
    assert statuses(responses) == Counter({204: N}), [r.get_data(as_text=True) for r in responses]
    assert count_stored(app, statement_id) == 1
    assert seen == [statement_id]  # the hooks (projections, outbox) ran for the one stored copy only
    assert xapi.get("statements", query={"statementId": statement_id}).get_json()["id"] == statement_id


def test_different_statements_put_at_once_under_one_id_store_one_and_refuse_the_rest(app, xapi, at_once):
    statement_id = new_id()
    responses = at_once(lambda x, i: x.put(
        "statements", query={"statementId": statement_id},
        json_body=make_statement(actor=f"racer{i}@example.com", id=statement_id)))
    assert statuses(responses) == Counter({204: 1, 409: N - 1}), [r.get_data(as_text=True) for r in responses]
    winner = next(i for i, r in enumerate(responses) if r.status_code == 204)
    stored = xapi.get("statements", query={"statementId": statement_id}).get_json()
    assert stored["actor"]["mbox"] == f"mailto:racer{winner}@example.com"
    assert count_stored(app, statement_id) == 1


@pytest.mark.skipif(IS_POSTGRES, reason="SQLite's database-wide write lock")
def test_begin_write_takes_sqlite_write_lock_at_once_and_savepoints_work_inside(app):
    import sqlite3

    from sqlalchemy.exc import IntegrityError

    from lms_service.extensions import begin_write
    from lms_service.lrs.models import Activity

    with app.app_context():
        begin_write()
        db.session.execute(sa.select(Activity)).all()  # only a read so far, and yet no one else may write
        other = sqlite3.connect(db.engine.url.database, timeout=0.1)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("INSERT INTO lrs_activities (activity_id) VALUES ('intruder')")
        finally:
            other.close()
        db.session.add(Activity(activity_id="kept"))
        db.session.flush()
        with pytest.raises(IntegrityError), db.session.begin_nested():
            db.session.add(Activity(activity_id="kept"))
        db.session.add(Activity(activity_id="also kept"))
        db.session.commit()
        stored = set(db.session.execute(sa.select(Activity.activity_id)).scalars())
        db.session.remove()
    assert stored == {"kept", "also kept"}
