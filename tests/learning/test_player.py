"""The player end to end without JavaScript: enrol, lessons, quiz graded on the server, fail, review,
retry, pass; the statement stream as the LRS stores it; resume through the xAPI State bookmark."""
from __future__ import annotations

import json
import re
import uuid

import sqlalchemy as sa

from lms_service.extensions import db
from lms_service.learning.models import LearnerProgress, QuizAnswer, Registration

from .conftest import LESSONS, QUESTIONS, RIGHT, WRONG, Player, verbs

MODULE_IRI = "https://id.lms-service.org/modules/sample-compressed-air"


def _registration(app, registration: str) -> Registration:
    with app.app_context():
        row = db.session.execute(sa.select(Registration).where(Registration.registration == registration)).scalar_one()
        db.session.expunge(row)
        return row


def _progress(app, registration: str) -> LearnerProgress | None:
    with app.app_context():
        row = db.session.get(LearnerProgress, registration)
        if row is not None:
            db.session.expunge(row)
        return row


def test_enrolment_creates_a_registration_pinned_to_the_version(app, player, client):
    player.enrol()
    assert str(uuid.UUID(player.registration)) == player.registration
    row = _registration(app, player.registration)
    with app.app_context():
        from lms_service.packages.models import ModuleVersion

        version = db.session.get(ModuleVersion, row.module_version_id)
        assert version.version == "1.0.0"
    # Enrolling again opens the same registration.
    token = player.token("/modules/sample-compressed-air")
    again = client.post("/modules/sample-compressed-air/enrol", data={"csrf_token": token})
    assert player.registration in again.headers["Location"]
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(Registration)).scalar_one() == 1
    assert _progress(app, player.registration).status == "not_started"


def test_lesson_page_has_progress_in_words_and_the_lesson(app, player, client):
    player.enrol()
    page = client.get(f"{player.base}/lessons/why-leaks").get_data(as_text=True)
    assert "0 of 2 lessons done (0 %)" in page
    assert '<progress id="player-progress" max="100" value="0"' in page
    assert "Why leaks cost money" in page  # the title in the learner's language
    player.finish_lesson("why-leaks")
    page = client.get(f"{player.base}/lessons/leak-round").get_data(as_text=True)
    assert "1 of 2 lessons done (50 %)" in page
    assert _progress(app, player.registration).status == "in_progress"
    assert _progress(app, player.registration).progress == 50


def test_the_quiz_waits_for_the_lessons(player, client):
    player.enrol()
    response = client.get(f"{player.base}/quiz")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/lessons/why-leaks")


def test_correct_answers_never_reach_the_browser_before_answering(app, player, client):
    player.enrol()
    player.finish_lessons()
    with app.app_context():
        from lms_service.packages.models import ModuleVersion

        quiz = db.session.execute(sa.select(ModuleVersion.quiz)).scalar_one()
    attempt = player.attempt_number()
    for question in quiz["questions"]:
        page = client.get(f"{player.base}/quiz", query_string={"q": question["id"]}).get_data(as_text=True)
        assert question["prompt"]["en"] in page
        assert question["explanation"]["en"] not in page
        assert "is-correct" not in page and "Correct." not in page
        if question["type"] == "fill_in":
            for answers in question["correct"].values():
                assert not any(answer in page for answer in answers)
        if question["type"] == "ordering":
            # The items are shown in a shuffled order, never the correct one.
            shown = re.findall(r'name="q-round-order-([a-z-]+)"', page)
            assert shown != question["correct"]
        feedback = player.answer(question["id"], RIGHT[question["id"]], attempt=attempt)
        assert feedback.status_code == 302
        page = client.get(feedback.headers["Location"]).get_data(as_text=True)
        # After the answer: the verdict in words and the explanation.
        assert question["explanation"]["en"] in page
        assert "Correct." in page


def test_fail_review_retry_pass_with_the_statement_stream(app, player, client, make_reader):
    player.enrol()
    client.get(player.base)
    player.finish_lessons()
    assert _progress(app, player.registration).status == "completed"

    failed = player.take_quiz(WRONG)
    assert failed.headers["Location"].endswith(f"{player.base}/result")
    result = client.get(f"{player.base}/result").get_data(as_text=True)
    assert "Not passed" in result and "0 of 7" in result
    # What to review: the lessons the wrong answers point to, linked.
    assert f'{player.base}/lessons/why-leaks"' in result and f'{player.base}/lessons/leak-round"' in result
    assert _progress(app, player.registration).status == "failed"

    # review_before_retry: the quiz sends the learner back to the result until both lessons are reviewed.
    assert client.get(f"{player.base}/quiz").headers["Location"].endswith("/result")
    stale = player.answer("biggest-cost", RIGHT["biggest-cost"], attempt="2")
    assert stale.status_code == 409
    player.finish_lesson("why-leaks")
    assert "reviewed" in client.get(f"{player.base}/result").get_data(as_text=True)
    player.finish_lesson("leak-round")
    assert "Try the quiz again" in client.get(f"{player.base}/result").get_data(as_text=True)

    passed = player.take_quiz(RIGHT)
    assert passed.status_code == 302
    result = client.get(f"{player.base}/result").get_data(as_text=True)
    assert "Passed" in result and "7 of 7" in result and "100 %" in result
    progress = _progress(app, player.registration)
    assert progress.status == "passed" and progress.score_scaled == 1.0 and progress.attempts == 2
    assert _registration(app, player.registration).finished

    stream = make_reader().statements(registration=player.registration)
    assert verbs(stream) == (
        ["launched", "initialized", "progressed", "progressed", "completed"]
        + ["answered"] * 7 + ["failed", "progressed", "progressed"] + ["answered"] * 7 + ["passed", "terminated"])
    progressed = [s for s in stream if s["verb"]["id"].endswith("progressed")]
    assert [s["result"]["extensions"]["https://w3id.org/xapi/cmi5/result/extensions/progress"]
            for s in progressed] == [50, 100, 100, 100]
    assert progressed[0]["object"]["id"] == f"{MODULE_IRI}/lessons/why-leaks"
    answered = [s for s in stream if s["verb"]["id"].endswith("answered")]
    assert [a["result"]["success"] for a in answered] == [False] * 7 + [True] * 7
    first = answered[0]
    assert first["object"]["id"] == f"{MODULE_IRI}/questions/biggest-cost"
    assert first["object"]["definition"]["interactionType"] == "choice"
    assert first["object"]["definition"]["correctResponsesPattern"] == ["heat"]
    assert first["result"]["response"] == "noise"
    judged = {s["verb"]["id"].rsplit("/", 1)[-1]: s for s in stream if s["verb"]["id"].endswith(("passed", "failed"))}
    assert judged["failed"]["result"]["score"] == {"scaled": 0.0, "raw": 0, "min": 0, "max": 7}
    assert judged["passed"]["result"]["score"]["scaled"] == 1.0
    assert judged["passed"]["result"]["success"] is True and "duration" in judged["passed"]["result"]


def test_statements_are_pseudonymous_with_the_context_the_profile_names(app, player, client, make_reader):
    player.enrol()
    player.finish_lessons()
    stream = make_reader().statements(registration=player.registration)
    with app.app_context():
        from lms_service.accounts.models import User

        user = db.session.execute(sa.select(User)).scalar_one()
        account, email, name = user.xapi_account_name, user.email, user.display_name
    for statement in stream:
        text = json.dumps(statement, ensure_ascii=False)
        assert email not in text and name not in text
        assert statement["actor"] == {"objectType": "Agent", "account": {"homePage": "http://localhost",
                                                                         "name": account}}
        context = statement["context"]
        assert context["registration"] == player.registration
        assert context["language"] == "en-US"
        assert context["platform"] == "lms_service"
        assert statement["timestamp"].endswith("Z")
    completed = next(s for s in stream if s["verb"]["id"].endswith("completed"))
    assert completed["object"]["id"] == MODULE_IRI
    assert completed["result"]["completion"] is True
    progressed = next(s for s in stream if s["verb"]["id"].endswith("progressed"))
    assert progressed["context"]["contextActivities"]["parent"][0]["id"] == MODULE_IRI


def test_leave_and_resume_through_the_state_bookmark(app, player, client, auth, make_reader, create_org):
    player.enrol()
    client.get(player.base)
    player.finish_lesson("why-leaks")
    client.get(f"{player.base}/lessons/leak-round")
    response = player.leave()
    assert response.headers["Location"].endswith("/my-learning")
    my = client.get("/my-learning").get_data(as_text=True)
    assert "Resume" in my and "50 %" in my

    # An external client reads the bookmark from the State resource.
    with app.app_context():
        from lms_service.accounts.models import User

        account = db.session.execute(sa.select(User.xapi_account_name)).scalar_one()
    agent = json.dumps({"objectType": "Agent", "account": {"homePage": "http://localhost", "name": account}})
    state = make_reader(scopes="all").get("activities/state", activityId=MODULE_IRI, agent=agent,
                                          registration=player.registration, stateId="bookmark")
    assert state.status_code == 200, state.get_data(as_text=True)
    assert state.get_json()["location"] == "lesson:leak-round"

    auth.logout()
    auth.login("lena@example.se")
    response = client.get(player.base)
    assert response.headers["Location"].endswith(f"{player.base}/lessons/leak-round")
    stream = make_reader().statements(registration=player.registration)
    assert verbs(stream)[-6:] == ["progressed", "suspended", "terminated", "launched", "initialized", "resumed"]
    suspended = next(s for s in stream if s["verb"]["id"].endswith("suspended"))
    assert suspended["result"]["extensions"]["https://w3id.org/xapi/cmi5/result/extensions/progress"] == 50
    sessions = {s["context"]["extensions"]["https://w3id.org/xapi/cmi5/context/extensions/sessionid"]
                for s in stream}
    assert len(sessions) == 2


def test_logging_out_suspends_the_open_session(app, player, client, auth, make_reader):
    player.enrol()
    client.get(f"{player.base}/lessons/why-leaks")
    client.get(f"{player.base}/lessons/leak-round")
    auth.logout()
    auth.login("lena@example.se")
    assert client.get(player.base).headers["Location"].endswith("/lessons/leak-round")
    assert verbs(make_reader().statements(registration=player.registration)) == [
        "launched", "initialized", "suspended", "terminated", "launched", "initialized", "resumed"]


def test_company_credentials_read_their_employees_statements_only(app, client, sample, create_user, create_org,
                                                                   auth, make_reader):
    company, other = create_org("Komponent AB"), create_org("Annat AB")
    create_user(email="anna@example.se", organisation=company, language="en")
    auth.login("anna@example.se")
    player = Player(client, sample)
    player.enrol()
    player.finish_lessons()
    assert client.get(player.base, follow_redirects=True).status_code == 200  # the quiz page: bookmark "quiz"
    own = make_reader(org=company).statements(registration=player.registration)
    assert verbs(own) == ["launched", "initialized", "progressed", "progressed", "completed"]
    assert make_reader(org=other).statements(registration=player.registration) == []
    assert len(make_reader().statements(registration=player.registration)) == 5
    # The bookmark is under the company too.
    with app.app_context():
        from lms_service.accounts.models import User

        account = db.session.execute(sa.select(User.xapi_account_name)).scalar_one()
    agent = json.dumps({"objectType": "Agent", "account": {"homePage": "http://localhost", "name": account}})
    state = make_reader(org=company, scopes="all").get("activities/state", activityId=MODULE_IRI, agent=agent,
                                                        registration=player.registration, stateId="bookmark")
    assert state.status_code == 200 and state.get_json()["location"] == "quiz"


def test_retry_limit_finishes_the_module(app, client, runner, learner, tmp_path):
    import shutil

    from .conftest import SAMPLE, import_folder

    folder = shutil.copytree(SAMPLE, tmp_path / "sample")
    manifest = (folder / "module.yaml").read_text()
    (folder / "module.yaml").write_text(manifest.replace("max_attempts: 3", "max_attempts: 1"))
    import_folder(runner, folder)
    player = Player(client, "sample-compressed-air")
    player.enrol()
    player.finish_lessons()
    player.take_quiz(WRONG)
    result = client.get(f"{player.base}/result").get_data(as_text=True)
    assert "used every attempt" in result and "Try the quiz again" not in result
    assert _registration(app, player.registration).finished
    assert client.get(f"{player.base}/quiz").headers["Location"].endswith("/result")
    again = player.answer("biggest-cost", RIGHT["biggest-cost"], attempt="2", token=player.token("/my-learning"))
    assert again.status_code == 409 and "finished this module" in again.get_data(as_text=True)
    assert _progress(app, player.registration).status == "failed"


def test_my_learning_lists_in_progress_finished_and_certificates(app, client, catalogue, learner, runner):
    # Pass the three modules of the resource-efficiency path by answering through the services.
    from lms_service.accounts.models import User
    from lms_service.learning import services
    from lms_service.packages.services import get_module_by_slug

    slugs = ["a1-energy-mapping", "a2-iso-14001-50001", "a3-circular-remanufacturing"]
    with app.test_request_context():
        user = db.session.execute(sa.select(User)).scalar_one()
        for slug in slugs:
            registration = services.enrol(user, get_module_by_slug(slug))
            state = services.open_player(registration, user, "en")
            for lesson in state.lessons:
                services.finish_lesson(registration, user, lesson["id"], "en")
            state = services.player_state(registration, "en")
            for question in state.questions:
                _answer_right(services, registration, user, question)
            services.submit_quiz(registration, user, 1, "en")
        services.enrol(user, get_module_by_slug("b1-climate-accounting"))
    page = client.get("/my-learning").get_data(as_text=True)
    active, finished = page.split('id="finished-title"')[0], page.split('id="finished-title"')[1]
    assert "Resume" in active and "Climate" in active
    assert finished.count("✓ Passed") == 3
    assert "Resource-efficient production" in page  # the path's certificate


def _answer_right(services, registration, user, question):
    """Answer a real module's question right, whatever its type (built from the stored key, test only)."""
    field = f"q-{question['id']}"
    kind = question["type"]
    correct = question["correct"]
    if kind in ("single_choice",):
        form = {field: correct}
    elif kind == "multiple_choice":
        form = {field: list(correct)}
    elif kind == "true_false":
        form = {field: "true" if correct else "false"}
    elif kind == "numeric":
        form = {field: str(correct.get("value", correct.get("min")))}
    elif kind == "matching":
        form = {f"{field}-{source}": target for source, target in correct.items()}
    elif kind == "ordering":
        form = {f"{field}-{item}": str(position + 1) for position, item in enumerate(correct)}
    else:
        form = {field: next(iter(correct.values()))[0]}
    outcome = services.record_answer(registration, user, question["id"], 1, form, "en")
    assert outcome.answer.correct, question["id"]


def test_answers_are_stored_once_per_question_and_attempt(app, player, client):
    player.enrol()
    player.finish_lessons()
    player.take_quiz(WRONG)
    assert sorted(QUESTIONS) == sorted(
        r.question_id for r in _answers(app) if r.attempt == 1)


def _answers(app):
    with app.app_context():
        rows = list(db.session.execute(sa.select(QuizAnswer)).scalars())
        for row in rows:
            db.session.expunge(row)
        return rows


def test_lessons_are_listed_in_the_navigation(player, client):
    player.enrol()
    page = client.get(f"{player.base}/lessons/why-leaks").get_data(as_text=True)
    for lesson in LESSONS:
        assert f"{player.base}/lessons/{lesson}" in page
    assert 'aria-current="page"' in page


def test_a_swedish_learner_takes_the_module_in_swedish(app, client, sample, create_user, auth, make_reader):
    create_user(email="sven@example.se", language="sv")
    auth.login("sven@example.se")
    player = Player(client, sample)
    player.enrol()
    page = client.get(f"{player.base}/lessons/why-leaks").get_data(as_text=True)
    assert "Varför läckor kostar" in page and '<html lang="sv">' in page
    player.finish_lessons()
    page = client.get(f"{player.base}/quiz").get_data(as_text=True)
    assert "Vad blir det mesta av elen som en kompressor använder?" in page
    stream = make_reader().statements(registration=player.registration)
    assert {s["context"]["language"] for s in stream} == {"sv-SE"}
    completed = next(s for s in stream if s["verb"]["id"].endswith("completed"))
    assert completed["object"]["definition"]["name"]["sv-SE"].startswith("Tryckluftsläckor")
