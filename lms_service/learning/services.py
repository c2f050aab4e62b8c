"""The learner's side of the service: catalogue, enrolment, the player, server-graded quizzes, resume.

Every learner action that changes something runs in one transaction that the function owns: it locks the
registration row (``SELECT … FOR UPDATE``: two requests for one registration run one after the other),
checks the state, writes the player's rows (whose unique keys make a double submit record nothing twice)
and stores the action's statements through the LRS's one ingest path, which commits everything together.
The learner's status is never written here: the progress projection derives it from those statements.
"""
from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer, load_only

from xapi import builders

from ..errors import UserError
from ..extensions import db
from ..lrs import documents
from ..lrs.clients import Credential, service_credential
from ..lrs.ingest import IngestError, ingest_statements
from ..packages import services as packages
from ..packages.models import LearningPath, LearningPathModule, Module, ModuleVersion
from ..packages.questions import ResponseError, get_question_type
from ..timeutil import as_aware, utcnow
from .models import LearnerProgress, LessonCompletion, QuizAnswer, QuizAttempt, Registration

BOOKMARK_STATE_ID = "bookmark"
DURATIONS = {"short": (0, 15), "medium": (16, 30), "long": (31, 10_000)}
DEFAULT_RETRY = {"max_attempts": 3, "review_before_retry": True}


# ---------------------------------------------------------------- catalogue


@dataclass
class CatalogueEntry:
    slug: str
    iri: str
    version: str
    title: dict[str, str]
    summary: dict[str, str]
    minutes: int
    languages: list[str]
    path_key: str | None


@dataclass
class CatalogueGroup:
    path: LearningPath | None
    entries: list[CatalogueEntry] = field(default_factory=list)


@dataclass(frozen=True)
class CatalogueFilters:
    query: str = ""
    language: str = ""
    path: str = ""
    duration: str = ""


def _published_versions() -> list[tuple[Module, ModuleVersion]]:
    # One query, without the large columns (lesson text, sources) the catalogue never shows.
    rows = db.session.execute(
        sa.select(Module, ModuleVersion).join(ModuleVersion, ModuleVersion.module_id == Module.id)
        .where(ModuleVersion.published.is_(True))
        .options(load_only(ModuleVersion.id, ModuleVersion.module_id, ModuleVersion.version, ModuleVersion.major,
                           ModuleVersion.minor, ModuleVersion.patch, ModuleVersion.manifest,
                           ModuleVersion.published))
    ).all()
    latest: dict[int, tuple[Module, ModuleVersion]] = {}
    for module, version in rows:
        current = latest.get(module.id)
        if current is None or version.semver > current[1].semver:
            latest[module.id] = (module, version)
    return sorted(latest.values(), key=lambda pair: pair[0].slug)


def _path_of_slug() -> dict[str, str]:
    rows = db.session.execute(sa.select(LearningPathModule.module_slug, LearningPath.key)
                              .join(LearningPath, LearningPath.id == LearningPathModule.learning_path_id))
    return {slug: key for slug, key in rows}


def _matches(entry: CatalogueEntry, manifest: dict, filters: CatalogueFilters) -> bool:
    if filters.language and filters.language not in entry.languages:
        return False
    if filters.path and entry.path_key != filters.path:
        return False
    if filters.duration in DURATIONS:
        low, high = DURATIONS[filters.duration]
        if not low <= entry.minutes <= high:
            return False
    if filters.query:
        words = filters.query.casefold().split()
        texts = [*entry.title.values(), *entry.summary.values()]
        texts += [text for objective in manifest.get("objectives", []) for text in objective.values()]
        haystack = " ".join(texts).casefold()
        if not all(word in haystack for word in words):
            return False
    return True


class _CatalogueCache:
    """The catalogue's entries, rebuilt only when what is published changed (one cheap query per view)."""

    def __init__(self) -> None:
        self._key: tuple | None = None
        self._entries: list[tuple[CatalogueEntry, dict]] = []
        self._lock = threading.Lock()

    @staticmethod
    def _fingerprint() -> tuple:
        versions = db.session.execute(sa.select(
            sa.func.count(ModuleVersion.id), sa.func.max(ModuleVersion.id), sa.func.max(ModuleVersion.published_at),
            sa.func.min(ModuleVersion.published_at)).where(ModuleVersion.published.is_(True))).one()
        paths = db.session.execute(sa.select(sa.func.count(LearningPath.id), sa.func.max(LearningPath.updated_at))
                                   ).one()
        modules = db.session.execute(sa.select(sa.func.count(Module.id), sa.func.max(Module.id))).one()
        # The database's identity too: tests (and tenants) may point the same process at another database.
        return (str(db.engine.url), tuple(versions), tuple(paths), tuple(modules))

    def entries(self, path_keys: set[str]) -> list[tuple[CatalogueEntry, dict]]:
        key = (self._fingerprint(), tuple(sorted(path_keys)))
        with self._lock:
            if key == self._key:
                return self._entries
        by_slug = _path_of_slug()
        entries = []
        for module, version in _published_versions():
            manifest = version.manifest
            path_key = manifest.get("learning_path") or by_slug.get(module.slug)
            entries.append((CatalogueEntry(
                slug=module.slug, iri=module.iri, version=version.version, title=manifest["title"],
                summary=manifest["summary"], minutes=int(manifest["estimated_minutes"]),
                languages=list(manifest["languages"]), path_key=path_key if path_key in path_keys else None),
                {"objectives": manifest.get("objectives", [])}))
        with self._lock:
            self._key, self._entries = key, entries
        return entries


_catalogue_cache = _CatalogueCache()


def catalogue(filters: CatalogueFilters) -> list[CatalogueGroup]:
    """Published modules (latest published version each) matching ``filters``, grouped by learning path."""
    paths = packages.list_learning_paths()
    groups = {path.key: CatalogueGroup(path) for path in paths}
    other = CatalogueGroup(None)
    for entry, manifest in _catalogue_cache.entries(set(groups)):
        if _matches(entry, manifest, filters):
            (groups[entry.path_key] if entry.path_key else other).entries.append(entry)
    ordered = [groups[path.key] for path in paths]
    return [group for group in [*ordered, other] if group.entries]


def path_for(manifest: dict, slug: str) -> LearningPath | None:
    """The learning path a module belongs to (its manifest's ``learning_path``, else the path listing it)."""
    key = manifest.get("learning_path")
    if key:
        path = packages.get_learning_path(key)
        if path is not None:
            return path
    return db.session.execute(sa.select(LearningPath).join(LearningPathModule)
                              .where(LearningPathModule.module_slug == slug).limit(1)).scalar_one_or_none()


def text(value: Mapping[str, str] | None, lang: str) -> str:
    """A translated text in ``lang``, else in the first language it has."""
    if not value:
        return ""
    return value.get(lang) or next(iter(value.values()))


def module_language(version: ModuleVersion, wanted: str) -> str:
    """The language the learner takes the module in: theirs when the module has it."""
    languages = list(version.manifest["languages"])
    return wanted if wanted in languages else languages[0]


def retry_policy(version: ModuleVersion) -> dict:
    """The module's retry policy with the documented defaults filled in."""
    return {**DEFAULT_RETRY, **(version.manifest.get("retry") or {})}


# ---------------------------------------------------------------- loading


def _version(version_id: int) -> ModuleVersion:
    # The lesson texts are loaded only when a lesson is rendered for the first time in this process.
    version = db.session.execute(sa.select(ModuleVersion).where(ModuleVersion.id == version_id)
                                 .options(defer(ModuleVersion.sources), defer(ModuleVersion.lessons))).scalar_one()
    return version


def find_registration(user: Any, module: Module) -> Registration | None:
    """The user's registration for the module, or None."""
    return db.session.execute(sa.select(Registration).where(
        Registration.user_id == user.id, Registration.module_id == module.id)).scalar_one_or_none()


def registration_for(user: Any, registration: str) -> Registration:
    """The user's registration with this UUID; UserError (404) when there is none or it is someone else's."""
    row = db.session.execute(sa.select(Registration).where(
        Registration.registration == (registration or "").lower())).scalar_one_or_none()
    if row is None:
        raise UserError(_("There is no registration %(id)s. Start the module from the catalogue.",
                          id=registration), status=404)
    if row.user_id != user.id:
        # The same answer as for an unknown id would hide whether it exists, but a clear word helps the
        # learner who followed a colleague's link; the UUID is unguessable, so nothing leaks.
        raise UserError(_("This registration belongs to another learner. Open your own from My learning."),
                        status=403)
    return row


def _lock(registration: Registration) -> Registration:
    """Re-read the registration with a row lock held until the transaction ends."""
    return db.session.execute(sa.select(Registration).where(Registration.id == registration.id)
                              .with_for_update().execution_options(populate_existing=True)).scalar_one()


@dataclass
class PlayerState:
    """Everything a player page needs to know about where the learner stands."""

    registration: Registration
    version: ModuleVersion
    lang: str
    lessons: list[dict]
    done: set[str]  # lessons finished in the first pass
    reviewed: set[str]  # lessons finished in the current review round
    answers: dict[str, QuizAnswer]  # question id -> answer in the current attempt
    last_attempt: QuizAttempt | None
    to_review: list[str]  # lesson ids the last failed attempt points to
    path: LearningPath | None = None  # the module's learning path, once looked up
    path_looked_up: bool = False

    @property
    def questions(self) -> list[dict]:
        return list(self.version.quiz["questions"])

    @property
    def attempt(self) -> int:
        return self.registration.attempts + 1

    @property
    def progress(self) -> int:
        return progress_percent(len(self.done), len(self.lessons))

    @property
    def lessons_done(self) -> bool:
        return len(self.done) == len(self.lessons)

    @property
    def policy(self) -> dict:
        return retry_policy(self.version)

    @property
    def attempts_left(self) -> int | None:
        maximum = int(self.policy["max_attempts"])
        return None if maximum == 0 else max(0, maximum - self.registration.attempts)

    @property
    def review_pending(self) -> list[str]:
        if not (self.last_attempt and not self.last_attempt.passed and self.policy["review_before_retry"]):
            return []
        return [lesson for lesson in self.to_review if lesson not in self.reviewed]

    @property
    def in_review(self) -> bool:
        return bool(self.last_attempt and not self.last_attempt.passed and not self.registration.finished)

    def lesson(self, lesson_id: str) -> dict | None:
        return next((lesson for lesson in self.lessons if lesson["id"] == lesson_id), None)

    def question(self, question_id: str) -> dict | None:
        return next((q for q in self.questions if q["id"] == question_id), None)

    def next_question(self) -> dict | None:
        return next((q for q in self.questions if q["id"] not in self.answers), None)

    def next_location(self) -> str:
        """Where the player continues when the learner has no bookmark (or finished a step)."""
        if self.registration.finished:
            return "result"
        if self.in_review:
            pending = self.review_pending
            return f"lesson:{pending[0]}" if pending else "quiz"
        for lesson in self.lessons:
            if lesson["id"] not in self.done:
                return f"lesson:{lesson['id']}"
        return "quiz"


def progress_percent(done: int, total: int) -> int:
    """Whole percent of lessons done (what the progress extension and the progress bar show)."""
    return 0 if total == 0 else int(done * 100 / total)


def lessons_to_review(version: ModuleVersion, wrong: list[str]) -> list[str]:
    """The lessons (in lesson order) that the wrongly answered questions point to."""
    lessons = [lesson["id"] for lesson in version.manifest["lessons"]]
    wanted = {q.get("lesson") for q in version.quiz["questions"] if q["id"] in wrong}
    return [lesson for lesson in lessons if lesson in wanted]


def player_state(registration: Registration, lang: str) -> PlayerState:
    """Load what the player needs about a registration (a handful of indexed queries)."""
    version = _version(registration.module_version_id)
    completions = db.session.execute(sa.select(LessonCompletion.lesson_id, LessonCompletion.round).where(
        LessonCompletion.registration_id == registration.id)).all()
    done = {lesson for lesson, round_ in completions if round_ == 0}
    reviewed = {lesson for lesson, round_ in completions if round_ == registration.attempts and round_ > 0}
    answers = {a.question_id: a for a in db.session.execute(sa.select(QuizAnswer).where(
        QuizAnswer.registration_id == registration.id, QuizAnswer.attempt == registration.attempts + 1)).scalars()}
    last_attempt = None
    to_review: list[str] = []
    if registration.attempts:
        last_attempt = db.session.execute(sa.select(QuizAttempt).where(
            QuizAttempt.registration_id == registration.id, QuizAttempt.number == registration.attempts)
        ).scalar_one_or_none()
        wrong = list(db.session.execute(sa.select(QuizAnswer.question_id).where(
            QuizAnswer.registration_id == registration.id, QuizAnswer.attempt == registration.attempts,
            QuizAnswer.correct.is_(False))).scalars())
        to_review = lessons_to_review(version, wrong)
    return PlayerState(registration, version, module_language(version, lang), list(version.manifest["lessons"]),
                       done, reviewed, answers, last_attempt, to_review)


# ---------------------------------------------------------------- statements


def _client_for(user: Any) -> Credential:
    # Statements are stored under the learner's organisation, so that the LRS credentials of the
    # learner's company (organisation-scoped) read them; global credentials read every organisation.
    base = service_credential()
    return Credential(base.client_id, base.name, base.scopes, getattr(user, "organisation_id", None))


def _session(state: PlayerState, user: Any) -> builders.ModuleSession:
    registration = state.registration
    if not state.path_looked_up:  # once per action, however many statements it writes
        state.path = path_for(state.version.manifest, registration.module.slug)
        state.path_looked_up = True
    path = state.path
    return builders.ModuleSession(
        home_page=current_app.config["BASE_URL"], account_name=user.xapi_account_name,
        registration=registration.registration, module_iri=registration.module.iri,
        module_title=state.version.manifest["title"], module_version=state.version.version, language=state.lang,
        session_id=registration.session_id or registration.registration,
        path_iri=path.iri if path else None, path_title=path.title if path else None)


class _Clock:
    """Strictly increasing timestamps for the statements of one action, so their order is their time order."""

    def __init__(self) -> None:
        self.now = utcnow()
        self._step = 0

    def next(self) -> dt.datetime:
        self._step += 1
        return self.now + dt.timedelta(microseconds=self._step)


def _since(start: dt.datetime | None, now: dt.datetime) -> dt.timedelta:
    start = as_aware(start)
    return max(dt.timedelta(0), now - start) if start else dt.timedelta(0)


def _open_session(state: PlayerState, user: Any, clock: _Clock) -> list[dict]:
    """The statements that open a cmi5 session if none is open (launched, initialized, resumed)."""
    registration = state.registration
    statements: list[dict] = []
    if not registration.session_open:
        registration.session_id = str(uuid.uuid4())
        registration.session_open = True
        registration.session_started_at = clock.now
        statements.append(builders.launched(_session(state, user), clock.next()))
    if registration.started_at is None or statements:
        session = _session(state, user)
        registration.started_at = registration.started_at or clock.now
        statements.append(builders.initialized(session, clock.next()))
        if registration.suspended:
            statements.append(builders.resumed(session, clock.next()))
            registration.suspended = False
    return statements


def _store(statements: list[dict], user: Any) -> None:
    """Store the statements through the LRS ingest path, which commits the whole transaction."""
    if not statements:
        db.session.commit()
        return
    try:
        # The learner's next page shows what these statements earn (progress, a certificate): wait for it.
        ingest_statements(statements, version=current_app.config.get("LRS_DEFAULT_VERSION", "2.0.0"),
                          authority=service_credential().authority(), client=_client_for(user),
                          wait_for_projections=True)
    except IngestError as error:
        # Our own statements should always be valid; a failure here is a bug, but the learner keeps
        # everything they had and can try again.
        current_app.logger.error("the player's statements were refused: %s (%s)", error.message, error.path)
        raise UserError(_("Your step could not be recorded. Nothing was lost; please try again."),
                        status=503) from None


def _finish_transaction(statements: list[dict], user: Any) -> None:
    try:
        _store(statements, user)
    except BaseException:
        db.session.rollback()
        raise


# ---------------------------------------------------------------- bookmark (xAPI State)


def _agent(user: Any) -> dict:
    return {"objectType": "Agent",
            "account": {"homePage": current_app.config["BASE_URL"], "name": user.xapi_account_name}}


def bookmark_key(registration: Registration, user: Any) -> documents.DocumentKey:
    """Where the bookmark lives in the State resource: module IRI + learner's agent + registration.

    It is kept under the learner's organisation (as the learner's statements are), so the company's
    organisation-scoped LRS credentials read it through /xapi/activities/state.
    """
    from xapi import identity

    return documents.DocumentKey(kind="state", org_key=getattr(user, "organisation_id", None) or 0,
                                 activity_id=registration.module.iri, agent_ifi=identity.actor_ifi(_agent(user)) or "",
                                 registration=registration.registration)


def save_bookmark(registration: Registration, user: Any, location: str) -> None:
    """Record where the learner is (``lesson:<id>``, ``quiz`` or ``result``) in the State resource.

    Writes (and commits) only when the location changed.
    """
    if registration.bookmark == location:
        return
    body = json.dumps({"location": location, "updated": utcnow().isoformat().replace("+00:00", "Z")})
    try:
        # save_document commits: the registration's copy of the location goes in the same transaction.
        # It is only a cache of the document, so a concurrent writer winning is harmless.
        registration.bookmark = location
        documents.save_document(bookmark_key(registration, user), BOOKMARK_STATE_ID, body.encode("utf-8"),
                                "application/json", merge=True)
    except documents.DocumentError as error:
        # A concurrent write of the same bookmark: the other request's location is as good as ours.
        db.session.rollback()
        current_app.logger.info("bookmark not saved: %s", error.message)
    except BaseException:
        db.session.rollback()
        raise


def read_bookmark(registration: Registration, user: Any) -> str | None:
    """The location in the learner's State document (an external client may have written it), or None."""
    document = documents.get_document(bookmark_key(registration, user), BOOKMARK_STATE_ID)
    if document is None:
        return None
    try:
        location = json.loads(document.content.decode("utf-8")).get("location")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    return location if isinstance(location, str) else None


def resume_location(state: PlayerState, user: Any) -> str:
    """Where to continue: the bookmark when it still names a place in this version, else the next step."""
    location = read_bookmark(state.registration, user)
    if state.registration.finished:
        return "result"
    if location and location.startswith("lesson:") and state.lesson(location[7:]) is not None:
        return location
    if location == "quiz" and state.lessons_done:
        return "quiz"
    if location == "result" and state.last_attempt is not None:
        return "result"
    return state.next_location()


# ---------------------------------------------------------------- learner actions


def enrol(user: Any, module: Module, lang: str = "sv") -> Registration:
    """Register the learner on the module's latest published version (or return their registration).

    Writes ``launched``. A second enrolment, even a concurrent one, returns the first registration.
    """
    existing = find_registration(user, module)
    if existing is not None:
        return existing
    version = packages.latest_published_version(module)
    if version is None:
        raise UserError(_("This module is not published, so you cannot start it."), status=404)
    registration = Registration(user_id=user.id, module_id=module.id, module_version_id=version.id)
    db.session.add(registration)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        existing = find_registration(user, module)
        if existing is None:
            raise
        return existing
    state = player_state(registration, lang)
    clock = _Clock()
    registration.session_id = str(uuid.uuid4())
    registration.session_open = True
    registration.session_started_at = clock.now
    _finish_transaction([builders.launched(_session(state, user), clock.next())], user)
    return registration


def open_player(registration: Registration, user: Any, lang: str) -> PlayerState:
    """Start (or continue) the learner's session: opening statements when a session begins.

    While a session is open this only reads (no lock, no write), which keeps page views cheap.
    """
    state = player_state(registration, lang)
    if registration.finished or (registration.session_open and registration.started_at is not None):
        return state
    registration = _lock(registration)
    state = player_state(registration, lang)
    if registration.finished:
        db.session.commit()
        return state
    _finish_transaction(_open_session(state, user, _Clock()), user)
    return state


def finish_lesson(registration: Registration, user: Any, lesson_id: str, lang: str) -> PlayerState:
    """The learner finished a lesson: ``progressed`` (and ``completed`` after the last one).

    In a review round (after a failed attempt) it records the review. Finishing the same lesson twice in
    the same round records nothing the second time.
    """
    registration = _lock(registration)
    state = player_state(registration, lang)
    lesson = state.lesson(lesson_id)
    if lesson is None:
        db.session.rollback()
        raise UserError(_("This module has no lesson %(id)s.", id=lesson_id[:64]), status=404)
    if registration.finished:
        db.session.rollback()
        raise UserError(_("You have finished this module; lessons you read now are not recorded again."),
                        status=409)
    round_ = registration.attempts if state.in_review else 0
    if (round_ == 0 and lesson_id in state.done) or (round_ > 0 and lesson_id in state.reviewed):
        db.session.rollback()
        return state
    clock = _Clock()
    statements = _open_session(state, user, clock)
    db.session.add(LessonCompletion(registration_id=registration.id, lesson_id=lesson_id, round=round_,
                                    finished_at=clock.now))
    if round_ == 0:
        state.done.add(lesson_id)
    else:
        state.reviewed.add(lesson_id)
    session = _session(state, user)
    statements.append(builders.progressed(session, f"{registration.module.iri}/lessons/{lesson_id}",
                                          lesson["title"], state.progress, clock.next()))
    if round_ == 0 and state.lessons_done:
        statements.append(builders.completed(session, _since(registration.started_at, clock.now), clock.next()))
    _finish_transaction(statements, user)
    return state


@dataclass
class AnswerOutcome:
    question: dict
    answer: QuizAnswer
    duplicate: bool


def _json_response(response: Any) -> Any:
    from decimal import Decimal

    return str(response) if isinstance(response, Decimal) else response


def record_answer(registration: Registration, user: Any, question_id: str, attempt: str | int | None,
                  form: Mapping[str, Any], lang: str) -> AnswerOutcome:
    """Grade one answer on the server and record it with its ``answered`` statement.

    ``attempt`` is the attempt number the form was shown for. Raises UserError for a question that does
    not exist, a finished module, a stale attempt or an answer that is not well-formed (the form is shown
    again). A second answer to the same question returns the first (``duplicate``) and records nothing.
    """
    registration = _lock(registration)
    state = player_state(registration, lang)
    question = state.question(question_id)
    try:
        if question is None:
            raise UserError(_("This module's quiz has no question %(id)s.", id=question_id[:64]), status=404)
        if registration.finished:
            raise UserError(_("You have finished this module, so answers are no longer recorded."), status=409)
        try:
            attempt_number = int(str(attempt))
        except ValueError:
            raise UserError(_("The form was changed: the attempt number is missing or not a number."),
                            status=400) from None
        if not state.lessons_done:
            raise UserError(_("Finish the lessons before you take the quiz."), status=409)
        if attempt_number != state.attempt:
            raise UserError(_("This answer belongs to attempt %(sent)s, but you are on attempt %(current)s. "
                              "Nothing was recorded; answer the question shown now.",
                              sent=attempt_number, current=state.attempt), status=409)
        if state.review_pending:
            raise UserError(_("Review the lessons your result points to before you try again."), status=409)
        if state.attempts_left == 0:
            raise UserError(_("You have no attempts left."), status=409)
    except UserError:
        db.session.rollback()
        raise
    existing = state.answers.get(question_id)
    if existing is not None:
        db.session.rollback()
        return AnswerOutcome(question, existing, duplicate=True)
    kind = get_question_type(question["type"])
    try:
        response = kind.parse_response(question, form)
    except ResponseError:
        db.session.rollback()
        raise
    correct = bool(kind.grade(question, response))
    clock = _Clock()
    statements = _open_session(state, user, clock)
    answered = builders.answered(_session(state, user), f"{registration.module.iri}/questions/{question_id}",
                                 kind.xapi_definition(question, list(state.version.manifest["languages"])),
                                 kind.xapi_response(response), correct, attempt_number, clock.next())
    statements.append(answered)
    answer = QuizAnswer(registration_id=registration.id, attempt=attempt_number, question_id=question_id,
                        response=kind.xapi_response(response), response_json=_json_response(response),
                        correct=correct, answered_at=clock.now, statement_id=answered["id"])
    db.session.add(answer)
    try:
        # The unique key is the second lock: on a database without row locks the later insert fails here.
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        first = db.session.execute(sa.select(QuizAnswer).where(
            QuizAnswer.registration_id == registration.id, QuizAnswer.attempt == attempt_number,
            QuizAnswer.question_id == question_id)).scalar_one()
        return AnswerOutcome(question, first, duplicate=True)
    _finish_transaction(statements, user)
    return AnswerOutcome(question, answer, duplicate=False)


@dataclass
class GradeOutcome:
    attempt: QuizAttempt
    duplicate: bool


def submit_quiz(registration: Registration, user: Any, attempt: str | int | None, lang: str) -> GradeOutcome:
    """Grade the attempt against the mastery score: ``passed`` or ``failed`` (+ ``terminated`` when the
    module is finished: passed, or failed with no attempt left). Submitting an attempt twice grades it once."""
    registration = _lock(registration)
    state = player_state(registration, lang)
    try:
        try:
            attempt_number = int(str(attempt))
        except ValueError:
            raise UserError(_("The form was changed: the attempt number is missing or not a number."),
                            status=400) from None
        if attempt_number == registration.attempts and state.last_attempt is not None:
            db.session.rollback()
            return GradeOutcome(state.last_attempt, duplicate=True)
        if registration.finished:
            raise UserError(_("You have finished this module, so answers are no longer recorded."), status=409)
        if attempt_number != state.attempt:
            raise UserError(_("This answer belongs to attempt %(sent)s, but you are on attempt %(current)s. "
                              "Nothing was recorded; answer the question shown now.",
                              sent=attempt_number, current=state.attempt), status=409)
        missing = [q["id"] for q in state.questions if q["id"] not in state.answers]
        if missing:
            raise UserError(_("Answer every question before you see your result (%(count)s left).",
                              count=len(missing)), status=409)
    except UserError:
        db.session.rollback()
        raise
    raw = sum(1 for answer in state.answers.values() if answer.correct)
    maximum = len(state.questions)
    scaled = raw / maximum if maximum else 0.0
    mastery = float(state.version.manifest["mastery_score"])
    passed = scaled + 1e-9 >= mastery
    clock = _Clock()
    statements = _open_session(state, user, clock)
    session = _session(state, user)
    judged = builders.judged(session, passed, scaled, raw, maximum, _since(registration.started_at, clock.now),
                             clock.next())
    statements.append(judged)
    row = QuizAttempt(registration_id=registration.id, number=attempt_number, raw=raw, maximum=maximum,
                      scaled=scaled, passed=passed, submitted_at=clock.now, statement_id=judged["id"])
    db.session.add(row)
    registration.attempts = attempt_number
    maximum_attempts = int(state.policy["max_attempts"])
    if passed or (maximum_attempts and attempt_number >= maximum_attempts):
        registration.status = "finished"
        registration.finished_at = clock.now
        statements.append(builders.terminated(session, _since(registration.session_started_at, clock.now),
                                              clock.next()))
        registration.session_open = False
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        first = db.session.execute(sa.select(QuizAttempt).where(
            QuizAttempt.registration_id == registration.id, QuizAttempt.number == attempt_number)).scalar_one()
        return GradeOutcome(first, duplicate=True)
    _finish_transaction(statements, user)
    return GradeOutcome(row, duplicate=False)


def leave(registration: Registration, user: Any, lang: str) -> bool:
    """The learner leaves before finishing: ``suspended`` (with progress) and ``terminated``.

    Returns False when there was no open session to leave (nothing recorded).
    """
    registration = _lock(registration)
    if registration.finished or not registration.session_open or registration.started_at is None:
        db.session.rollback()
        return False
    state = player_state(registration, lang)
    clock = _Clock()
    session = _session(state, user)
    statements = [builders.suspended(session, state.progress, clock.next()),
                  builders.terminated(session, _since(registration.session_started_at, clock.now), clock.next())]
    registration.session_open = False
    registration.suspended = True
    _finish_transaction(statements, user)
    return True


def suspend_open_sessions(user: Any, lang: str) -> int:
    """Leave every open session of the user (called when they log out); returns how many."""
    ids = list(db.session.execute(sa.select(Registration.id).where(
        Registration.user_id == user.id, Registration.session_open.is_(True),
        Registration.started_at.is_not(None), Registration.status == "active")).scalars())
    count = 0
    for registration_id in ids:
        registration = db.session.get(Registration, registration_id)
        if registration is not None and leave(registration, user, lang):
            count += 1
    return count


# ---------------------------------------------------------------- rendering helpers


class _LessonCache:
    """Rendered lesson HTML by (content hash, lesson, language): a version's content never changes."""

    def __init__(self, size: int = 256) -> None:
        self._items: OrderedDict[tuple, Markup] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, version: ModuleVersion, lesson_id: str, lang: str) -> Markup:
        key = (version.content_sha256, lesson_id, lang)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        html = packages.render_lesson(version, lesson_id, lang)
        with self._lock:
            self._items[key] = html
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return html


_lessons = _LessonCache()


def lesson_html(version: ModuleVersion, lesson_id: str, lang: str) -> Markup:
    """A lesson's body as safe HTML (rendered once per process)."""
    return _lessons.get(version, lesson_id, lang)


def question_html(state: PlayerState, question: dict, answer: QuizAnswer | None = None) -> Markup:
    """The question's fields; with its feedback and explanation only once it has been answered."""
    if answer is None:
        return packages.render_question(state.version, question, state.lang)
    return packages.render_question(state.version, question, state.lang, response=_shown_response(answer),
                                    feedback={"correct": answer.correct})


def _shown_response(answer: QuizAnswer) -> Any:
    # Numbers were kept as text (JSON has no decimal); the numeric type's view formats text as well.
    return answer.response_json


@dataclass
class ResultView:
    attempt: QuizAttempt
    rows: list[tuple[dict, QuizAnswer | None]]
    to_review: list[dict]
    reviewed: set[str]
    can_retry: bool


def result_view(state: PlayerState) -> ResultView | None:
    """The last graded attempt: score, each question right or wrong, the lessons to review."""
    attempt = state.last_attempt
    if attempt is None:
        return None
    answers = {a.question_id: a for a in db.session.execute(sa.select(QuizAnswer).where(
        QuizAnswer.registration_id == state.registration.id, QuizAnswer.attempt == attempt.number)).scalars()}
    rows = [(q, answers.get(q["id"])) for q in state.questions]
    to_review = [state.lesson(lesson_id) for lesson_id in state.to_review]
    can_retry = (not attempt.passed and not state.registration.finished and not state.review_pending)
    return ResultView(attempt, rows, [lesson for lesson in to_review if lesson], state.reviewed, can_retry)


# ---------------------------------------------------------------- my learning


@dataclass
class MyRegistration:
    registration: Registration
    title: dict[str, str]
    slug: str
    status: str  # from the projection: not_started | in_progress | completed | passed | failed
    progress: int
    score: float | None


@dataclass
class Certificate:
    path: LearningPath
    modules: list[str]


def my_learning(user: Any) -> tuple[list[MyRegistration], list[MyRegistration], list[Certificate]]:
    """The learner's registrations split into in progress and finished, and the learning paths whose
    certificate rule (``move_on``) every module of the path meets, all from the progress projection."""
    rows = db.session.execute(
        sa.select(Registration, Module.slug, ModuleVersion.manifest, LearnerProgress)
        .join(Module, Module.id == Registration.module_id)
        .join(ModuleVersion, ModuleVersion.id == Registration.module_version_id)
        .outerjoin(LearnerProgress, LearnerProgress.registration == Registration.registration)
        .where(Registration.user_id == user.id).order_by(Registration.created_at.desc())).all()
    active: list[MyRegistration] = []
    finished: list[MyRegistration] = []
    status_by_slug: dict[str, LearnerProgress | None] = {}
    for registration, slug, manifest, progress in rows:
        item = MyRegistration(registration, manifest["title"], slug,
                              progress.status if progress else "not_started",
                              progress.progress if progress else 0,
                              progress.score_scaled if progress else None)
        status_by_slug[slug] = progress
        (finished if registration.finished else active).append(item)
    certificates = []
    for path in packages.list_learning_paths():
        required = [entry for entry in path.modules if entry.required]
        if required and all(meets_move_on(entry.move_on or path.move_on, status_by_slug.get(entry.module_slug))
                            for entry in required):
            certificates.append(Certificate(path, path.module_slugs))
    return active, finished, certificates


def meets_move_on(move_on: str, progress: LearnerProgress | None) -> bool:
    """cmi5's moveOn rule for one module: has the registration's progress satisfied it?"""
    if move_on == "NotApplicable":
        return True
    if progress is None:
        return False
    passed = progress.passed_at is not None
    return {"Passed": passed, "Completed": progress.completed,
            "CompletedAndPassed": progress.completed and passed,
            "CompletedOrPassed": progress.completed or passed}.get(move_on, passed)


def registration_status(registration: Registration) -> LearnerProgress | None:
    """The projection row of a registration (None before its first statement)."""
    return db.session.get(LearnerProgress, registration.registration)
