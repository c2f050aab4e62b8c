"""Statement builders for the native module player and certificates, on tincan.

The player emits the statement stream an imported cmi5 unit would (launched, initialized, progressed,
answered, completed, passed/failed, terminated, plus suspended/resumed), so consumers see one vocabulary.
Actors are always pseudonymous accounts (homePage = the service's base URL, name = an opaque id): never an
e-mail address or a name. Builders return plain dicts ready for the LRS ingest path; the LRS sets
``stored``, ``authority`` and ``version``.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from tincan import (
    Activity,
    ActivityDefinition,
    Agent,
    AgentAccount,
    Context,
    ContextActivities,
    Extensions,
    LanguageMap,
    Result,
    Score,
    Statement,
)
from tincan import Verb as TinCanVerb

from .timeutil import format_timestamp
from .vocabulary import PLATFORM, VERB_DISPLAY, ActivityType, Category, Extension, Verb

LANGUAGE_TAGS = {"sv": "sv-SE", "en": "en-US"}


def language_map(texts: dict[str, str]) -> dict[str, str]:
    """{'sv': ..., 'en': ...} → an xAPI language map with region tags (sv-SE, en-US)."""
    return {LANGUAGE_TAGS.get(code, code): text for code, text in texts.items() if text}


@dataclass(frozen=True)
class ModuleSession:
    """Who is learning what, in which registration: the parts every player statement shares."""

    home_page: str  # the service's BASE_URL
    account_name: str  # the learner's opaque xAPI account name
    registration: str  # UUID of the enrolment
    module_iri: str
    module_title: dict[str, str]
    module_version: str
    language: str  # 'sv' or 'en': the language the learner takes the module in
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    path_iri: str | None = None
    path_title: dict[str, str] | None = None


def _actor(session: ModuleSession) -> Agent:
    return Agent(account=AgentAccount(home_page=session.home_page, name=session.account_name))


def _verb(iri: str) -> TinCanVerb:
    return TinCanVerb(id=iri, display=LanguageMap(VERB_DISPLAY[iri]))


def _module_activity(session: ModuleSession) -> Activity:
    return Activity(id=session.module_iri, definition=ActivityDefinition(
        type=ActivityType.MODULE, name=LanguageMap(language_map(session.module_title))))


def _context(session: ModuleSession, *, cmi5: bool = False, move_on: bool = False,
             parent: Activity | None = None, extra: dict[str, Any] | None = None) -> Context:
    categories = [Activity(id=Category.PROFILE)]
    if cmi5:
        categories.append(Activity(id=Category.CMI5))
    if move_on:
        categories.append(Activity(id=Category.MOVE_ON))
    grouping = []
    if session.path_iri:
        grouping.append(Activity(id=session.path_iri, definition=ActivityDefinition(
            type=ActivityType.COURSE, name=LanguageMap(language_map(session.path_title or {})) or None)))
    parents = [parent] if parent is not None else []
    extensions = {Extension.SESSION_ID: session.session_id, Extension.MODULE_VERSION: session.module_version}
    extensions.update(extra or {})
    return Context(
        registration=session.registration,
        context_activities=ContextActivities(
            category=categories, grouping=grouping or None, parent=parents or None),
        language=LANGUAGE_TAGS.get(session.language, session.language),
        platform=PLATFORM,
        extensions=Extensions(extensions),
    )


def _finish(statement: Statement, timestamp: dt.datetime | None) -> dict[str, Any]:
    statement.id = uuid.uuid4()
    data = json.loads(statement.to_json())
    data.pop("version", None)  # the LRS records the version it stored the statement under
    data["timestamp"] = format_timestamp(timestamp or dt.datetime.now(dt.UTC))
    return data


def _module_statement(session: ModuleSession, verb: str, timestamp: dt.datetime | None, *,
                      result: Result | None = None, cmi5: bool = True, move_on: bool = False) -> dict[str, Any]:
    return _finish(Statement(actor=_actor(session), verb=_verb(verb), object=_module_activity(session),
                             result=result, context=_context(session, cmi5=cmi5, move_on=move_on)), timestamp)


def launched(session: ModuleSession, timestamp: dt.datetime | None = None) -> dict[str, Any]:
    """The learner opened the module (a new registration or a new session of it)."""
    return _module_statement(session, Verb.LAUNCHED, timestamp)


def initialized(session: ModuleSession, timestamp: dt.datetime | None = None) -> dict[str, Any]:
    """The module is ready to be taken in this session."""
    return _module_statement(session, Verb.INITIALIZED, timestamp)


def resumed(session: ModuleSession, timestamp: dt.datetime | None = None) -> dict[str, Any]:
    """The learner came back to a registration they had left."""
    return _module_statement(session, Verb.RESUMED, timestamp, cmi5=False)


def suspended(session: ModuleSession, progress: int, timestamp: dt.datetime | None = None) -> dict[str, Any]:
    """The learner left the module before finishing; progress is 0–100."""
    result = Result(extensions=Extensions({Extension.PROGRESS: int(progress)}))
    return _module_statement(session, Verb.SUSPENDED, timestamp, result=result, cmi5=False)


def progressed(session: ModuleSession, lesson_iri: str, lesson_title: dict[str, str], progress: int,
               timestamp: dt.datetime | None = None) -> dict[str, Any]:
    """A lesson was finished; ``progress`` is the module's progress after it, 0–100."""
    lesson = Activity(id=lesson_iri, definition=ActivityDefinition(
        type=ActivityType.LESSON, name=LanguageMap(language_map(lesson_title))))
    result = Result(extensions=Extensions({Extension.PROGRESS: int(progress)}))
    return _finish(Statement(actor=_actor(session), verb=_verb(Verb.PROGRESSED), object=lesson, result=result,
                             context=_context(session, parent=_module_activity(session))), timestamp)


def answered(session: ModuleSession, question_iri: str, definition: dict[str, Any], response: str,
             success: bool, attempt: int, timestamp: dt.datetime | None = None) -> dict[str, Any]:
    """One quiz answer: ``definition`` is the question type's xAPI interaction definition."""
    activity = Activity(id=question_iri, definition=ActivityDefinition(definition))
    result = Result(response=response, success=bool(success))
    return _finish(Statement(actor=_actor(session), verb=_verb(Verb.ANSWERED), object=activity, result=result,
                             context=_context(session, parent=_module_activity(session),
                                              extra={Extension.ATTEMPT: attempt})), timestamp)


def completed(session: ModuleSession, duration: dt.timedelta, timestamp: dt.datetime | None = None) -> dict[str, Any]:
    """Every lesson has been worked through."""
    result = Result(completion=True, duration=duration, extensions=Extensions({Extension.PROGRESS: 100}))
    return _module_statement(session, Verb.COMPLETED, timestamp, result=result, move_on=True)


def judged(session: ModuleSession, passed: bool, scaled: float, raw: int, maximum: int, duration: dt.timedelta,
           timestamp: dt.datetime | None = None) -> dict[str, Any]:
    """The quiz was graded: passed or failed against the module's mastery score."""
    result = Result(score=Score(scaled=round(scaled, 4), raw=raw, min=0, max=maximum), success=passed,
                    duration=duration)
    return _module_statement(session, Verb.PASSED if passed else Verb.FAILED, timestamp, result=result,
                             move_on=True)


def terminated(session: ModuleSession, duration: dt.timedelta, timestamp: dt.datetime | None = None) -> dict[str, Any]:
    """The session ended (module finished, or the learner ended it)."""
    return _module_statement(session, Verb.TERMINATED, timestamp, result=Result(duration=duration))


def certificate_event(verb: str, *, home_page: str, account_name: str, certificate_iri: str,
                      certificate_id: str, title: dict[str, str], subject_iri: str, reason: str | None = None,
                      timestamp: dt.datetime | None = None) -> dict[str, Any]:
    """A certificate was issued, renewed or revoked (``verb`` one of the profile's certificate verbs)."""
    if verb not in (Verb.CERTIFICATE_ISSUED, Verb.CERTIFICATE_RENEWED, Verb.CERTIFICATE_REVOKED):
        raise ValueError(f"not a certificate verb: {verb}")
    extensions: dict[str, Any] = {Extension.CERTIFICATE_ID: certificate_id}
    if reason:
        extensions[Extension.REASON] = reason
    context = Context(
        context_activities=ContextActivities(category=[Activity(id=Category.PROFILE)],
                                             other=[Activity(id=subject_iri)]),
        platform=PLATFORM, extensions=Extensions(extensions))
    activity = Activity(id=certificate_iri, definition=ActivityDefinition(
        type=ActivityType.CERTIFICATE, name=LanguageMap(language_map(title))))
    statement = Statement(actor=Agent(account=AgentAccount(home_page=home_page, name=account_name)),
                          verb=_verb(verb), object=activity, context=context)
    return _finish(statement, timestamp)
