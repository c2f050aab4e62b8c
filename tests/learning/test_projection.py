"""The progress projection: status per registration derived from the statements by the ingest hook, and
rebuilt from the statements alone with identical results."""
from __future__ import annotations

import uuid

import sqlalchemy as sa

from lms_service.extensions import db
from lms_service.learning import projection
from lms_service.learning.models import LearnerProgress

from .conftest import RIGHT, WRONG, Player

MODULE = "https://id.lms-service.org/modules/external-module"


def _snapshot(app):
    with app.app_context():
        return projection.snapshot()


def _status(app, registration):
    with app.app_context():
        row = db.session.get(LearnerProgress, registration)
        return None if row is None else (row.status, row.progress, row.score_scaled, row.attempts)


def test_status_follows_the_statements(app, player, client):
    player.enrol()
    assert _status(app, player.registration) == ("not_started", 0, None, 0)
    client.get(player.base)
    assert _status(app, player.registration) == ("in_progress", 0, None, 0)
    player.finish_lesson("why-leaks")
    assert _status(app, player.registration) == ("in_progress", 50, None, 0)
    player.finish_lesson("leak-round")
    assert _status(app, player.registration) == ("completed", 100, None, 0)
    player.take_quiz(WRONG)
    assert _status(app, player.registration) == ("failed", 100, 0.0, 1)
    player.finish_lessons()
    player.take_quiz(RIGHT)
    assert _status(app, player.registration) == ("passed", 100, 1.0, 2)


def test_rebuild_gives_identical_rows(app, client, sample, create_user, auth, runner):
    # Three learners in three different states.
    for email, steps in (("a@example.se", "enrol"), ("b@example.se", "failed"), ("c@example.se", "passed")):
        create_user(email=email, language="en")
        auth.login(email)
        player = Player(client, sample)
        player.enrol()
        if steps != "enrol":
            player.finish_lessons()
            player.take_quiz(WRONG)
        if steps == "passed":
            player.finish_lessons()
            player.take_quiz(RIGHT)
        auth.logout()
    before = _snapshot(app)
    assert sorted(row[3] for row in before) == ["failed", "not_started", "passed"]

    # Lose the projection entirely, then rebuild it from the statements.
    with app.app_context():
        db.session.execute(sa.delete(LearnerProgress))
        db.session.commit()
    assert _snapshot(app) == []
    result = runner.invoke(args=["learning", "rebuild-progress"], env={"LMS_LANGUAGE": "en"})
    assert result.exit_code == 0, result.output
    assert "3 registrations" in result.output
    assert _snapshot(app) == before

    # Rebuilding over existing rows changes nothing either.
    assert runner.invoke(args=["learning", "rebuild-progress"]).exit_code == 0
    assert _snapshot(app) == before


def _external(registration: str, verb: str, progress: int | None = None, score: float | None = None,
              minute: int = 0) -> dict:
    statement = {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "account": {"homePage": "https://other.example", "name": "x1"}},
        "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}", "display": {"en-US": verb}},
        "object": {"objectType": "Activity", "id": MODULE},
        "context": {"registration": registration},
        "timestamp": f"2026-01-01T10:{minute:02d}:00Z",
    }
    if progress is not None:
        statement["result"] = {"extensions": {"https://w3id.org/xapi/cmi5/result/extensions/progress": progress}}
    if score is not None:
        statement["result"] = {"score": {"scaled": score}, "success": verb == "passed"}
    return statement


def _ingest(app, statements):
    from lms_service.lrs.clients import service_credential
    from lms_service.lrs.ingest import ingest_statements

    with app.test_request_context():
        ingest_statements(statements, version="2.0.0", authority=service_credential().authority())


def test_statements_from_any_client_are_projected_whatever_their_order(app, runner):
    registration = str(uuid.uuid4())
    statements = [_external(registration, "launched", minute=0), _external(registration, "initialized", minute=1),
                  _external(registration, "failed", score=0.5, minute=5),
                  _external(registration, "passed", score=0.9, minute=9),
                  _external(registration, "completed", minute=7)]
    # Out of order and in separate batches: the fold does not depend on the order.
    _ingest(app, [statements[3]])
    _ingest(app, [statements[0], statements[4]])
    _ingest(app, [statements[2], statements[1]])
    with app.app_context():
        row = db.session.get(LearnerProgress, registration)
        assert (row.status, row.completed, row.score_scaled, row.attempts) == ("passed", True, 0.9, 2)
        assert row.first_at == "2026-01-01T10:00:00.000000Z" and row.last_at == "2026-01-01T10:09:00.000000Z"
        assert row.actor_ifi == "account:https://other.example|x1"
    before = _snapshot(app)
    assert runner.invoke(args=["learning", "rebuild-progress"]).exit_code == 0
    assert _snapshot(app) == before


def test_voiding_a_statement_recomputes_its_registration(app):
    registration = str(uuid.uuid4())
    passed = _external(registration, "passed", score=0.9, minute=3)
    _ingest(app, [_external(registration, "launched", minute=0), _external(registration, "initialized", minute=1),
                  passed])
    assert _status(app, registration)[0] == "passed"
    voiding = {"actor": {"objectType": "Agent", "account": {"homePage": "https://other.example", "name": "x1"}},
               "verb": {"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}},
               "object": {"objectType": "StatementRef", "id": passed["id"]}}
    _ingest(app, [voiding])
    assert _status(app, registration) == ("in_progress", 0, None, 0)


def test_statements_without_a_registration_or_of_other_verbs_are_ignored(app):
    statement = _external(str(uuid.uuid4()), "experienced")
    without = _external(str(uuid.uuid4()), "completed")
    del without["context"]
    _ingest(app, [statement, without])
    assert _snapshot(app) == []
