"""Fixtures for the learner tests: modules imported through the packages CLI, a learner, helpers to walk
through a module with the real forms (CSRF tokens included)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import csrf_token

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "docs" / "examples" / "sample-module"
MODULES = ROOT / "modules"

# The sample module's right answers, as form fields (tests only: the server never sends them).
RIGHT = {
    "biggest-cost": {"q-biggest-cost": "heat"},
    "leak-places": {"q-leak-places": ["couplings", "hoses"]},
    "leaks-at-night": {"q-leaks-at-night": "false"},
    "round-steps": {"q-round-steps": "4"},
    "sound-size": {"q-sound-size-small": "hiss", "q-sound-size-large": "blow"},
    "round-order": {"q-round-order-quiet": "1", "q-round-order-walk": "2", "q-round-order-tag": "3",
                    "q-round-order-fix": "4"},
    "detector": {"q-detector": "ultraljud"},
}
WRONG = {
    "biggest-cost": {"q-biggest-cost": "noise"},
    "leak-places": {"q-leak-places": ["lamps"]},
    "leaks-at-night": {"q-leaks-at-night": "true"},
    "round-steps": {"q-round-steps": "7"},
    "sound-size": {"q-sound-size-small": "blow", "q-sound-size-large": "hiss"},
    "round-order": {"q-round-order-quiet": "4", "q-round-order-walk": "3", "q-round-order-tag": "2",
                    "q-round-order-fix": "1"},
    "detector": {"q-detector": "infraröd"},
}
QUESTIONS = list(RIGHT)
LESSONS = ["why-leaks", "leak-round"]


def import_folder(runner, path: Path) -> None:
    result = runner.invoke(args=["modules", "import", str(path)], env={"LMS_LANGUAGE": "en"})
    assert result.exit_code == 0, result.output


@pytest.fixture
def sample(app, runner):
    """The sample module (every question type), published; returns its slug."""
    import_folder(runner, SAMPLE)
    return "sample-compressed-air"


@pytest.fixture
def catalogue(app, runner):
    """The ten bundled modules with paths.yaml and glossary.yaml."""
    import_folder(runner, MODULES)


@pytest.fixture
def learner(app, create_user, client, auth):
    """A logged-in learner who reads English (the assertions read English messages); returns the user id."""
    user_id = create_user(email="lena@example.se", language="en")
    auth.login("lena@example.se")
    return user_id


REG_RE = re.compile(r"/learn/([0-9a-f-]{36})")


class Player:
    """Drives the player through its forms, as a browser without JavaScript would."""

    def __init__(self, client, slug: str):
        self.client = client
        self.slug = slug
        self.registration: str | None = None

    def token(self, url: str) -> str:
        return csrf_token(self.client, url)

    def enrol(self):
        token = self.token(f"/modules/{self.slug}")
        response = self.client.post(f"/modules/{self.slug}/enrol", data={"csrf_token": token})
        assert response.status_code == 302, response.get_data(as_text=True)[:400]
        self.registration = REG_RE.search(response.headers["Location"]).group(1)
        return response

    @property
    def base(self) -> str:
        return f"/learn/{self.registration}"

    def finish_lesson(self, lesson_id: str):
        token = self.token("/my-learning")
        return self.client.post(f"{self.base}/lessons/{lesson_id}/done", data={"csrf_token": token})

    def finish_lessons(self, lessons=LESSONS):
        for lesson in lessons:
            response = self.finish_lesson(lesson)
            assert response.status_code == 302, response.get_data(as_text=True)[:400]

    def attempt_number(self) -> str:
        page = self.client.get(f"{self.base}/quiz").get_data(as_text=True)
        match = re.search(r'name="attempt" type="hidden" value="(\d+)"', page) or \
            re.search(r'name="attempt" value="(\d+)"', page) or re.search(r'value="(\d+)" name="attempt"', page)
        assert match, page[:2000]
        return match.group(1)

    def answer(self, question_id: str, fields: dict, attempt: str | None = None, token: str | None = None):
        token = token or self.token("/my-learning")
        attempt = attempt if attempt is not None else self.attempt_number()
        return self.client.post(f"{self.base}/quiz/answers/{question_id}",
                                data={"csrf_token": token, "attempt": attempt, **fields})

    def grade(self, attempt: str | None = None):
        token = self.token("/my-learning")
        attempt = attempt or self.attempt_number()
        return self.client.post(f"{self.base}/quiz/grade", data={"csrf_token": token, "attempt": attempt})

    def take_quiz(self, answers: dict):
        attempt = self.attempt_number()
        for question in QUESTIONS:
            response = self.answer(question, answers[question], attempt=attempt)
            assert response.status_code == 302, response.get_data(as_text=True)[:600]
        return self.grade(attempt)

    def leave(self):
        token = self.token("/my-learning")
        return self.client.post(f"{self.base}/leave", data={"csrf_token": token})


@pytest.fixture
def player(client, sample, learner):
    return Player(client, sample)


# ---------------------------------------------------------------- the LRS as an external client sees it


class LRSReader:
    """Reads the embedded LRS over HTTP with an LRS credential, as an external xAPI client would."""

    def __init__(self, client, key: str, secret: str):
        import base64

        self.client = client
        self.headers = {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode(),
                        "X-Experience-API-Version": "2.0.0"}

    def get(self, path: str, **query):
        return self.client.get(f"/xapi/{path}", headers=self.headers, query_string=query)

    def statements(self, **query) -> list[dict]:
        """Every statement matching ``query``, oldest first (follows ``more`` links)."""
        query.setdefault("ascending", "true")
        response = self.get("statements", **query)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        found = list(body["statements"])
        while body.get("more"):
            response = self.client.get(body["more"], headers=self.headers)
            body = response.get_json()
            found.extend(body["statements"])
        return found


@pytest.fixture
def make_reader(app, client):
    """``make_reader(org=None)`` → an LRSReader with a fresh credential (all/read scope)."""

    def factory(org: int | None = None, scopes: str = "all/read") -> LRSReader:
        from lms_service.lrs.clients import create_client

        with app.app_context():
            credential, secret = create_client("reader", scopes, org)
            return LRSReader(client, credential.key, secret)

    return factory


def verbs(statements: list[dict]) -> list[str]:
    return [s["verb"]["id"].rsplit("/", 1)[-1] for s in statements]


def db_count(app, model, **where) -> int:
    import sqlalchemy as sa

    from lms_service.extensions import db

    with app.app_context():
        query = sa.select(sa.func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return db.session.execute(query).scalar_one()
