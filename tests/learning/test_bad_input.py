"""Bad input to the player: a clear message, nothing recorded twice, nothing lost."""
from __future__ import annotations

import threading

import sqlalchemy as sa

from lms_service.extensions import db
from lms_service.learning.models import LessonCompletion, QuizAnswer, QuizAttempt
from lms_service.lrs.models import Statement

from .conftest import RIGHT, WRONG, Player, db_count


def _statements(app, verb: str | None = None) -> int:
    with app.app_context():
        query = sa.select(sa.func.count()).select_from(Statement)
        if verb:
            query = query.where(Statement.verb_id == f"http://adlnet.gov/expapi/verbs/{verb}")
        return db.session.execute(query).scalar_one()


def _ready(player: Player) -> str:
    player.enrol()
    player.finish_lessons()
    return player.attempt_number()


def test_answer_to_a_question_that_does_not_exist(app, player):
    attempt = _ready(player)
    before = _statements(app)
    response = player.answer("no-such-question", {"q-no-such-question": "x"}, attempt=attempt)
    assert response.status_code == 404
    assert "has no question no-such-question" in response.get_data(as_text=True)
    assert _statements(app) == before and db_count(app, QuizAnswer) == 0


def test_answer_to_another_learners_registration(app, client, sample, create_user, auth):
    create_user(email="owner@example.se", language="en")
    create_user(email="other@example.se", language="en")
    auth.login("owner@example.se")
    owner = Player(client, sample)
    attempt = _ready(owner)
    auth.logout()
    auth.login("other@example.se")
    intruder = Player(client, sample)
    intruder.registration = owner.registration
    before = _statements(app)
    response = intruder.answer("biggest-cost", RIGHT["biggest-cost"], attempt=attempt)
    assert response.status_code == 403
    assert "belongs to another learner" in response.get_data(as_text=True)
    for path in ("", "/lessons/why-leaks", "/quiz", "/result"):
        assert client.get(f"{owner.base}{path}").status_code == 403
    assert _statements(app) == before and db_count(app, QuizAnswer) == 0


def test_the_same_question_twice_counts_once(app, player, client):
    attempt = _ready(player)
    first = player.answer("biggest-cost", WRONG["biggest-cost"], attempt=attempt)
    assert first.status_code == 302
    second = player.answer("biggest-cost", RIGHT["biggest-cost"], attempt=attempt)
    assert second.status_code == 302
    page = client.get(second.headers["Location"]).get_data(as_text=True)
    assert "your first answer counts" in page
    rows = db_count(app, QuizAnswer)
    assert rows == 1 and _statements(app, "answered") == 1
    with app.app_context():
        assert db.session.execute(sa.select(QuizAnswer.correct)).scalar_one() is False


def test_concurrent_double_submit_records_one_answer(app, player, client):
    """Two requests with the same answer at the same moment (a double click): one answer, one statement."""
    attempt = _ready(player)
    token = player.token("/my-learning")
    cookie = client.get_cookie("session")
    results = []

    def submit():
        other = app.test_client()
        other.set_cookie("session", cookie.value)
        results.append(other.post(f"{player.base}/quiz/answers/biggest-cost",
                                  data={"csrf_token": token, "attempt": attempt, **RIGHT["biggest-cost"]}).status_code)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [302] * 4
    assert db_count(app, QuizAnswer) == 1 and _statements(app, "answered") == 1


def test_answers_after_the_module_is_finished(app, player):
    _ready(player)
    player.take_quiz(RIGHT)
    before = _statements(app)
    response = player.answer("biggest-cost", RIGHT["biggest-cost"], attempt="2")
    assert response.status_code == 409
    assert "finished this module" in response.get_data(as_text=True)
    lesson = player.finish_lesson("why-leaks")
    assert lesson.status_code == 409
    assert _statements(app) == before


def test_forged_form_fields(app, player, client):
    attempt = _ready(player)
    cases = [
        ({"q-biggest-cost": "electricity"}, attempt, 400, "not one of the choices"),
        ({}, attempt, 400, "Please answer the question"),
        ({"q-biggest-cost": ["heat", "noise"]}, attempt, 400, "one answer only"),
        ({"q-biggest-cost": "heat"}, "7", 409, "attempt 7"),
        ({"q-biggest-cost": "heat"}, "one", 400, "attempt number"),
        ({"q-biggest-cost": "heat"}, "", 400, "attempt number"),
    ]
    for fields, sent_attempt, status, message in cases:
        response = player.answer("biggest-cost", fields, attempt=sent_attempt)
        body = response.get_data(as_text=True)
        assert response.status_code == status, (fields, sent_attempt, body[:300])
        assert message in body, (fields, message)
    # The form error names the problem in an error summary and keeps the question on the page.
    bad = player.answer("round-steps", {"q-round-steps": "four"}, attempt=attempt)
    body = bad.get_data(as_text=True)
    assert bad.status_code == 400 and 'class="error-summary"' in body and "Type a number" in body
    assert 'name="q-round-steps"' in body
    assert db_count(app, QuizAnswer) == 0 and _statements(app, "answered") == 0
    # A well-formed answer still goes through afterwards.
    assert player.answer("biggest-cost", RIGHT["biggest-cost"], attempt=attempt).status_code == 302


def test_grading_before_every_question_is_answered(app, player):
    attempt = _ready(player)
    player.answer("biggest-cost", RIGHT["biggest-cost"], attempt=attempt)
    response = player.grade(attempt)
    assert response.status_code == 409 and "6 left" in response.get_data(as_text=True)
    assert db_count(app, QuizAttempt) == 0


def test_grading_twice_grades_once(app, player, client):
    attempt = _ready(player)
    for question, fields in WRONG.items():
        player.answer(question, fields, attempt=attempt)
    assert player.grade(attempt).status_code == 302
    again = player.grade(attempt)
    assert again.status_code == 302
    assert "already been graded" in client.get(again.headers["Location"]).get_data(as_text=True)
    assert db_count(app, QuizAttempt) == 1 and _statements(app, "failed") == 1


def test_finishing_a_lesson_twice_records_it_once(app, player):
    player.enrol()
    player.finish_lesson("why-leaks")
    player.finish_lesson("why-leaks")
    assert db_count(app, LessonCompletion) == 1 and _statements(app, "progressed") == 1
    unknown = player.finish_lesson("no-such-lesson")
    assert unknown.status_code == 404 and "no lesson no-such-lesson" in unknown.get_data(as_text=True)


def test_expired_session_records_nothing(app, player, client, auth):
    attempt = _ready(player)
    token = player.token("/my-learning")
    before = _statements(app)
    auth.logout()
    response = client.post(f"{player.base}/quiz/answers/biggest-cost",
                           data={"csrf_token": token, "attempt": attempt, **RIGHT["biggest-cost"]})
    # Logged out: to the login page with a message (the CSRF token went with the session).
    assert response.status_code in (302, 400)
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]
    else:
        assert "expired" in response.get_data(as_text=True)
    assert db_count(app, QuizAnswer) == 0
    # Logging out wrote suspended + terminated; the answer wrote nothing.
    assert _statements(app) == before + 2


def test_missing_csrf_token(app, player, client):
    attempt = _ready(player)
    response = client.post(f"{player.base}/quiz/answers/biggest-cost",
                           data={"attempt": attempt, **RIGHT["biggest-cost"]})
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)
    assert db_count(app, QuizAnswer) == 0


def test_unknown_and_malformed_registrations(client, learner, sample):
    for registration in ("00000000-0000-4000-8000-000000000000", "not-a-uuid", "x" * 300):
        response = client.get(f"/learn/{registration}/quiz")
        assert response.status_code == 404
        assert "There is no registration" in response.get_data(as_text=True)


def test_unknown_lesson_and_question_pages(player, client):
    player.enrol()
    assert client.get(f"{player.base}/lessons/nope").status_code == 404
    player.finish_lessons()
    response = client.get(f"{player.base}/quiz", query_string={"q": "nope"})
    assert response.status_code == 404 and "has no question nope" in response.get_data(as_text=True)


def test_pages_need_a_login(client, sample):
    for path in ("/my-learning", "/learn/00000000-0000-4000-8000-000000000000"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_refused_statement_loses_nothing(app, player, monkeypatch):
    """If the LRS refused the player's statements, the learner is told and the step can be retried."""
    from lms_service.learning import services
    from lms_service.lrs.ingest import IngestError

    attempt = _ready(player)

    def refuse(*args, **kwargs):
        raise IngestError(400, "refused for the test")

    monkeypatch.setattr(services, "ingest_statements", refuse)
    response = player.answer("biggest-cost", RIGHT["biggest-cost"], attempt=attempt)
    assert response.status_code == 503 and "Nothing was lost" in response.get_data(as_text=True)
    assert db_count(app, QuizAnswer) == 0
    monkeypatch.undo()
    assert player.answer("biggest-cost", RIGHT["biggest-cost"], attempt=attempt).status_code == 302
    assert db_count(app, QuizAnswer) == 1 and _statements(app, "answered") == 1
