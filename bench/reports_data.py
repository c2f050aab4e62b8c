"""Bench-only generator of the statistics data set of issue #8: companies, learners, xAPI statements, projections.

The dashboards, exports and reporting API have to be measured on a database the size the programme expects
(100,000 learners in 300 companies, 1,000,000 statements), and the service cannot produce that through its
own player in reasonable time. This script builds it on a fresh database:

1. creates the database (PostgreSQL) if missing and runs the migrations (``flask_migrate.upgrade``);
2. imports the bundled ``modules/`` catalogue with the project's import service;
3. plans, deterministically from ``--seed``, the companies (valid Swedish organisation numbers, SCB county
   codes, kinds), the users (one argon2 hash shared by all: the password is ``bench-password-2026``) and each
   registration's journey through the native player, replayed step by step the way
   ``lms_service/learning/services.py`` records it (sessions, lessons, quiz attempts, reviews, retries);
4. builds every statement with ``xapi/builders.py`` and ``xapi.formatting.prepare_for_storage`` and writes
   it with its lookup rows directly (COPY on PostgreSQL, executemany on SQLite), in ``stored`` order; before
   that it stores a sample through the real ingest path in a rolled-back transaction and checks that the
   rows it writes itself are the same;
5. derives the projections with the project's own code: ``rebuild_reports()`` (progress and reporting
   table), ``certificates.services.issue_missing()`` (certificates and their statements), then adds
   assignments (some overdue) and coordinator grants, which have no derivation;
6. prints the timing of each phase and the row count of every table (also written to bench/results/).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/reports_bench \\
        python bench/reports_data.py --learners 100000 --companies 300 --statements 1000000 --seed 7
    DATABASE_URL=sqlite:////tmp/reports_smoke.sqlite3 \\
        python bench/reports_data.py --learners 2000 --companies 20 --statements 20000

Never point it at a real database: it bypasses validation and hooks for the bulk of the statements. The
player's own tables (lesson completions, quiz answers and attempts) are not filled, so the player shows these
learners' registrations from the start; only the LRS, the registrations and the projections are coherent.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import json
import math
import os
import random
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import lrs_bulk_load  # noqa: E402  (after bench/ is on sys.path)
import sqlalchemy as sa  # noqa: E402

from xapi import builders, formatting, identity  # noqa: E402

PASSWORD = "bench-password-2026"
EMAIL_DOMAIN = "bench.example"
VERSION = "2.0.0"
HISTORY_DAYS = 548  # 18 months of enrolments
CHUNK = 20_000  # statements per COPY round (and per commit)

# SCB county codes weighted by where the programme's companies are: the vehicle industry around Göteborg
# (Västra Götaland, 14) and the Stockholm region (01) most, then Skåne, Jönköping, Östergötland ...
COUNTY_WEIGHTS = {
    "01": 24, "14": 22, "12": 9, "06": 7, "05": 6, "19": 4, "18": 4, "13": 4, "03": 3, "04": 3, "07": 2,
    "08": 2, "10": 2, "17": 2, "20": 2, "21": 2, "24": 2, "22": 1, "25": 1, "23": 0.5, "09": 0.5,
}
PLACES = {
    "01": ["Södertälje", "Solna", "Kista", "Täby", "Järfälla"], "03": ["Uppsala", "Enköping"],
    "04": ["Eskilstuna", "Katrineholm"], "05": ["Linköping", "Norrköping", "Motala"],
    "06": ["Jönköping", "Gislaved", "Värnamo", "Gnosjö"], "07": ["Växjö", "Ljungby"], "08": ["Kalmar", "Oskarshamn"],
    "09": ["Visby"], "10": ["Olofström", "Karlskrona"], "12": ["Malmö", "Helsingborg", "Lund", "Trelleborg"],
    "13": ["Halmstad", "Varberg", "Falkenberg"], "14": ["Göteborg", "Trollhättan", "Borås", "Skövde", "Mölndal"],
    "17": ["Karlstad", "Arvika"], "18": ["Örebro", "Hallsberg", "Karlskoga"], "19": ["Västerås", "Köping"],
    "20": ["Borlänge", "Falun"], "21": ["Gävle", "Sandviken"], "22": ["Sundsvall", "Örnsköldsvik"],
    "23": ["Östersund"], "24": ["Umeå", "Skellefteå"], "25": ["Luleå", "Kiruna"],
}
KIND_WEIGHTS = {"vehicle_supplier": 55, "it_firm": 30, "other": 15}
KIND_WORDS = {
    "vehicle_supplier": ["Komponent", "Plåt", "Gjuteri", "Mekaniska", "Precision", "Verktyg", "Kabel",
                         "Ytbehandling", "Pressgjuteri", "Fordonsdetaljer", "Gummi", "Smide"],
    "it_firm": ["Data", "IT-konsult", "Systemutveckling", "Mjukvara", "Automation", "Digital", "Embedded"],
    "other": ["Logistik", "Förpackning", "Energi", "Industriservice", "Transport", "Elinstallation"],
}
# Which learning path a company's learners start in, by kind (paths in paths.yaml order).
PATH_PREFERENCE = {"vehicle_supplier": [40, 45, 15], "it_firm": [15, 25, 60], "other": [35, 35, 30]}
FIRST_NAMES = ["Anna", "Erik", "Maria", "Lars", "Karin", "Anders", "Sara", "Johan", "Emma", "Per", "Elin", "Mikael",
               "Linnea", "Fredrik", "Ida", "Jonas", "Sofia", "Mats", "Maja", "Henrik", "Amir", "Fatima", "Ali",
               "Noor", "Oskar", "Hanna", "Nils", "Ebba", "Gustav", "Aisha"]
LAST_NAMES = ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson",
              "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Jansson", "Hansson", "Bengtsson", "Lindberg",
              "Jakobsson", "Magnusson", "Lindström", "Olofsson", "Berg", "Axelsson", "Hassan", "Mohammed",
              "Holm", "Sandberg", "Forsberg", "Sjöberg", "Wallin", "Engström"]
MODULES_PER_LEARNER = {1: 62, 2: 22, 3: 10, 4: 6}
# Journeys of a registration. "Unfinished" ones stop before the quiz is graded, "graded" ones reach a result;
# the share of graded journeys is solved for so that the statements add up to --statements.
UNFINISHED = {"not_started": 15, "abandoned": 35, "in_progress": 38, "lessons_done": 12}
GRADED = {"passed": 70, "passed_on_retry": 14, "failed_out": 5, "failed_open": 11}
SHORT_VALIDITY_MODULE = "c2-battery-regulation-dpp"  # a one-year certificate, so some have expired


# ---------------------------------------------------------------- small helpers


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def weighted(rng: random.Random, weights: dict) -> Any:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def stable_uuid(*parts: object) -> str:
    """A UUID (version-4 form, like the player's) derived from ``parts``: deterministic and unique."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).digest()
    return str(uuid.UUID(bytes=digest, version=4))


def to_datetime(micros: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=micros)


def to_micros(moment: dt.datetime) -> int:
    return (moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


MINUTE = 60_000_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR


@dataclass
class Timings:
    phases: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        say(f"== {name} ...")
        started = time.perf_counter()
        yield
        self.phases[name] = round(time.perf_counter() - started, 2)
        say(f"== {name}: {self.phases[name]:.1f} s")


# ---------------------------------------------------------------- the database itself


def is_postgres(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql"))


def ensure_database(url: str, recreate: bool) -> None:
    """Create the PostgreSQL database (or the SQLite file's folder); refuse one that already holds data."""
    if is_postgres(url):
        import psycopg
        from sqlalchemy.engine import make_url

        target = make_url(url)
        name = target.database
        admin_url = target.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
        with psycopg.connect(admin_url, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if exists and recreate:
                say(f"dropping database {name} (--recreate)")
                conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
                exists = None
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
                say(f"created database {name}")
    elif url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        if recreate:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        raise SystemExit("DATABASE_URL must be postgresql://... or sqlite:///...")


def migrate() -> list[str]:
    """``flask db upgrade``; tables the migrations do not create yet come from the models (returned)."""
    import flask_migrate

    from lms_service.extensions import db

    flask_migrate.upgrade()
    existing = set(sa.inspect(db.engine).get_table_names())
    missing = [table for table in db.metadata.sorted_tables if table.name not in existing]
    if missing:
        db.metadata.create_all(db.engine, tables=missing)
        say("NOTICE: no migration creates " + ", ".join(t.name for t in missing) + " yet; created from the "
            "models (recreate this database once the migration exists, or `flask db upgrade` will fail)")
    return [table.name for table in missing]


def refuse_non_empty() -> None:
    from lms_service.accounts.models import User
    from lms_service.extensions import db
    from lms_service.lrs.models import Statement

    if db.session.execute(sa.select(sa.func.count()).select_from(User)).scalar_one() or \
            db.session.execute(sa.select(sa.func.count()).select_from(Statement)).scalar_one():
        raise SystemExit("the database already holds users or statements: use a fresh one (or --recreate)")


def import_catalogue() -> int:
    """Import the bundled modules/ the way ``flask modules import modules/`` does."""
    from lms_service.packages import services
    from lms_service.packages.validation import format_result, validate_targets

    result = validate_targets([str(ROOT / "modules")], limits=services.upload_limits())
    if not result.ok:
        raise SystemExit(format_result(result))
    packages = [package for _label, package in result.packages]
    services.import_catalogue(packages, paths=result.paths, glossary=result.glossary, publish=True)
    return len(packages)


# ---------------------------------------------------------------- the catalogue as the generator needs it


@dataclass
class Question:
    id: str
    iri: str
    definition: dict
    lesson: str | None
    responses: dict[tuple[str, bool], str]  # (language, correct) -> the xAPI response string


@dataclass
class ModuleInfo:
    id: int
    slug: str
    iri: str
    version_id: int
    version: str
    title: dict
    languages: list[str]
    lessons: list[tuple[str, str, dict]]  # (id, iri, title)
    questions: list[Question]
    mastery: float
    max_attempts: int
    review_before_retry: bool
    minutes: int
    path_index: int
    path_iri: str | None
    path_title: dict | None
    manifest: dict
    quiz: dict

    @property
    def allowed_wrong(self) -> int:
        """How many questions a learner may get wrong and still pass."""
        total = len(self.questions)
        return total - math.ceil(self.mastery * total - 1e-9)


def _responses(question: dict, languages: list[str]) -> dict[tuple[str, bool], str]:
    """A correct and a wrong response per language, checked with the question type's own grading."""
    from lms_service.packages.questions import Numeric, get_question_type

    kind = get_question_type(question["type"])
    name = question["type"]
    found: dict[tuple[str, bool], str] = {}
    for lang in languages:
        if name == "single_choice":
            ids = [c["id"] for c in question["choices"]]
            right, wrong = question["correct"], next(i for i in ids if i != question["correct"])
        elif name == "multiple_choice":
            ids = [c["id"] for c in question["choices"]]
            right = [i for i in ids if i in question["correct"]]
            others = [i for i in ids if i not in question["correct"]]
            wrong = right[:-1] + others[:1] if others else right[:-1]
        elif name == "true_false":
            right, wrong = question["correct"], not question["correct"]
        elif name == "numeric":
            low, high = Numeric._bounds(question)
            right, wrong = (low + high) / 2, high + abs(high) + 1
        elif name == "matching":
            sources = [s["id"] for s in question["sources"]]
            right = {s: question["correct"][s] for s in sources}
            targets = [right[s] for s in sources]
            rotated = targets[1:] + targets[:1]
            wrong = dict(zip(sources, rotated, strict=True))
            if wrong == right:
                other = next(t["id"] for t in question["targets"] if t["id"] != right[sources[0]])
                wrong = {**right, sources[0]: other}
        elif name == "ordering":
            right = list(question["correct"])
            wrong = right[1:] + right[:1]
        elif name == "fill_in":
            answers = question["correct"].get(lang) or next(iter(question["correct"].values()))
            right, wrong = answers[0], "vet inte" if lang == "sv" else "not sure"
        else:
            raise SystemExit(f"no responses for question type {name!r}: teach bench/reports_data.py about it")
        if not kind.grade(question, right) or kind.grade(question, wrong):
            raise SystemExit(f"responses for question {question['id']} do not grade as intended")
        found[(lang, True)] = kind.xapi_response(right)
        found[(lang, False)] = kind.xapi_response(wrong)
    return found


def load_catalogue() -> tuple[list[ModuleInfo], list[Any]]:
    """The published modules with what the player puts into statements, and the learning paths."""
    from lms_service.extensions import db
    from lms_service.learning.services import path_for, retry_policy
    from lms_service.packages import services as packages
    from lms_service.packages.models import Module
    from lms_service.packages.questions import get_question_type

    paths = packages.list_learning_paths()
    path_index = {path.key: index for index, path in enumerate(paths)}
    modules = []
    for module in db.session.execute(sa.select(Module).order_by(Module.slug)).scalars():
        version = packages.latest_published_version(module)
        if version is None:
            continue
        manifest, quiz = version.manifest, version.quiz
        languages = list(manifest["languages"])
        path = path_for(manifest, module.slug)
        policy = retry_policy(version)
        questions = [Question(q["id"], f"{module.iri}/questions/{q['id']}",
                              get_question_type(q["type"]).xapi_definition(q, languages), q.get("lesson"),
                              _responses(q, languages)) for q in quiz["questions"]]
        modules.append(ModuleInfo(
            id=module.id, slug=module.slug, iri=module.iri, version_id=version.id, version=version.version,
            title=manifest["title"], languages=languages,
            lessons=[(lesson["id"], f"{module.iri}/lessons/{lesson['id']}", lesson["title"])
                     for lesson in manifest["lessons"]],
            questions=questions, mastery=float(manifest["mastery_score"]), max_attempts=int(policy["max_attempts"]),
            review_before_retry=bool(policy["review_before_retry"]), minutes=int(manifest["estimated_minutes"]),
            path_index=path_index.get(path.key, 0) if path else 0, path_iri=path.iri if path else None,
            path_title=path.title if path else None, manifest=manifest, quiz=quiz))
    if not modules:
        raise SystemExit("the catalogue has no published module")
    return modules, paths


# ---------------------------------------------------------------- companies and users


@dataclass
class Org:
    id: int
    name: str
    org_number: str
    county: str
    kind: str
    created_us: int
    size: int
    engagement: float  # the share of its employees who enrol


@dataclass
class Person:
    id: int
    org: int | None
    email: str
    name: str
    language: str
    account: str  # xapi_account_name
    created_us: int
    roles: tuple[str, ...] = ()


def org_number(rng: random.Random, taken: set[str]) -> str:
    """A valid aktiebolag number (556/559 prefix), its check digit from the service's own Luhn check."""
    from lms_service.orgs.orgnr import luhn_ok, normalise_org_number

    while True:
        body = rng.choice(["556", "559"]) + f"{rng.randrange(10**6):06d}"
        check = next(d for d in "0123456789" if luhn_ok(body + d))
        number = normalise_org_number(body + check)
        if number not in taken:
            taken.add(number)
            return number


def growth_moment(rng: random.Random, start_us: int, end_us: int) -> int:
    """A moment in [start, end] with a density that grows over time (the programme gains learners), and a
    summer dip in July."""
    while True:
        u = rng.random()
        # density ∝ 0.25 + x on [0, 1]: the inverse of its CDF
        x = -0.25 + math.sqrt(0.0625 + 1.5 * u)
        moment = start_us + int(x * (end_us - start_us))
        if to_datetime(moment).month != 7 or rng.random() < 0.45:
            return moment


def company_sizes(rng: random.Random, companies: int, learners: int) -> list[int]:
    """Skewed sizes summing to ``learners``: a few of 1,000+, many of 50–300 (lognormal, largest remainder)."""
    raw = sorted((rng.lognormvariate(0, 1.0) for _ in range(companies)), reverse=True)
    total = sum(raw)
    minimum = min(5, learners // companies)
    spare = learners - minimum * companies
    shares = [spare * r / total for r in raw]
    sizes = [minimum + int(s) for s in shares]
    order = sorted(range(companies), key=lambda i: shares[i] - int(shares[i]), reverse=True)
    for i in order[:learners - sum(sizes)]:
        sizes[i] += 1
    return sizes


def plan_people(rng: random.Random, learners: int, companies: int, start_us: int,
                now_us: int) -> tuple[list[Org], list[Person]]:
    taken: set[str] = set()
    sizes = company_sizes(rng, companies, learners)
    orgs: list[Org] = []
    names: set[str] = set()
    for index, size in enumerate(sizes):
        county = weighted(rng, COUNTY_WEIGHTS)
        kind = weighted(rng, KIND_WEIGHTS)
        name = f"{rng.choice(PLACES[county])} {rng.choice(KIND_WORDS[kind])} AB"
        while name in names:
            name = name[:-3] + f" {rng.randrange(2, 99)} AB"
        names.add(name)
        # Companies join the programme over time; plan_registrations moves a company's date before its
        # employees' first enrolment.
        created = growth_moment(rng, start_us - 60 * DAY, now_us - 14 * DAY)
        orgs.append(Org(index + 1, name, org_number(rng, taken), county, kind, created, size,
                        min(0.95, max(0.3, rng.gauss(0.65, 0.15)))))
    people: list[Person] = []

    def person(org: Org | None, email: str, created: int, roles: tuple[str, ...] = (),
               language: str | None = None) -> Person:
        pid = len(people) + 1
        english = 0.25 if org is not None and org.kind == "it_firm" else 0.12
        p = Person(pid, org.id if org else None, email, f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                   language or ("en" if rng.random() < english else "sv"), uuid.UUID(int=rng.getrandbits(128)).hex,
                   created, roles)
        people.append(p)
        return p

    for org in orgs:
        for _ in range(org.size):
            # Accounts without enrolments were opened some time after the company joined.
            person(org, f"user{len(people) + 1}@{EMAIL_DOMAIN}", rng.randrange(org.created_us, now_us - HOUR))
    # Role holders come on top of the learners: a few company admins each, and the programme's people.
    for org in orgs:
        for k in range(1 if org.size < 100 else 2 if org.size < 1000 else 3):
            person(org, f"orgadmin{org.id}-{k + 1}@{EMAIL_DOMAIN}", org.created_us, ("org_admin",))
    for k in range(3):
        person(None, f"coordinator{k + 1}@{EMAIL_DOMAIN}", start_us - 60 * DAY, ("coordinator",), "sv")
    for k in range(2):
        person(None, f"admin{k + 1}@{EMAIL_DOMAIN}", start_us - 60 * DAY, ("admin",), "sv")
    return orgs, people


# ---------------------------------------------------------------- a registration's journey through the player


class _Stop(Exception):
    """The journey reached the present: the learner has not done the rest yet."""


@dataclass(slots=True)
class Reg:
    index: int
    person: int  # index into people
    module: int  # index into modules
    registration: str
    created_us: int
    journey: str
    status: str = "active"
    started_us: int | None = None
    finished_us: int | None = None
    attempts: int = 0
    bookmark: str = ""
    session_no: int = 0
    session_started_us: int | None = None
    session_open: bool = False
    suspended: bool = False
    statements: int = 0
    passed: bool = False


# An action: (stored µs, registration index, action µs, specs); a spec is one statement to build:
# (verb, session number, *arguments), see build_statement.
Action = tuple[int, int, int, tuple]


class Player:
    """Replays what lms_service/learning/services.py records for one registration (enrol, open_player,
    finish_lesson, record_answer, submit_quiz, leave), collecting the statements as specs."""

    def __init__(self, reg: Reg, module: ModuleInfo, rng: random.Random, limit_us: int, sink: list[Action]):
        self.reg, self.module, self.rng, self.limit, self.sink = reg, module, rng, limit_us, sink
        self.done: set[str] = set()
        self.reviewed: set[str] = set()
        self.answers: dict[str, bool] = {}
        self.last_passed: bool | None = None
        self.to_review: list[str] = []

    # -- what services.py keeps in PlayerState
    @property
    def progress(self) -> int:
        lessons = len(self.module.lessons)
        return 0 if lessons == 0 else int(len(self.done) * 100 / lessons)

    @property
    def lessons_done(self) -> bool:
        return len(self.done) == len(self.module.lessons)

    @property
    def in_review(self) -> bool:
        return self.last_passed is False and self.reg.status != "finished"

    @property
    def review_pending(self) -> list[str]:
        if not (self.last_passed is False and self.module.review_before_retry):
            return []
        return [lesson for lesson in self.to_review if lesson not in self.reviewed]

    def _emit(self, t: int, specs: list[tuple]) -> None:
        if t > self.limit:
            raise _Stop
        if specs:
            # The LRS stamps ``stored`` when the request's batch is prepared, a few ms after the action began.
            stored = (t + self.rng.randrange(3_000, 40_000)) // 1000 * 1000
            self.sink.append((stored, self.reg.index, t, tuple(specs)))
            self.reg.statements += len(specs)

    def _open_session(self, t: int) -> list[tuple]:
        reg, specs = self.reg, []
        opened = False
        if not reg.session_open:
            reg.session_no += 1
            reg.session_open = True
            reg.session_started_us = t
            specs.append(("launched", reg.session_no))
            opened = True
        if reg.started_us is None or opened:
            reg.started_us = reg.started_us or t
            specs.append(("initialized", reg.session_no))
            if reg.suspended:
                specs.append(("resumed", reg.session_no))
                reg.suspended = False
        return specs

    # -- the learner's actions
    def enrol(self, t: int) -> None:
        if t > self.limit:
            raise _Stop
        self.reg.session_open = True
        self.reg.session_started_us = t
        self._emit(t, [("launched", 0)])

    def open_player(self, t: int) -> None:
        reg = self.reg
        if reg.status == "finished" or (reg.session_open and reg.started_us is not None):
            return
        if t > self.limit:
            raise _Stop
        self._emit(t, self._open_session(t))

    def lesson(self, t: int, lesson_index: int) -> None:
        if t > self.limit:
            raise _Stop
        lesson_id = self.module.lessons[lesson_index][0]
        round_ = self.reg.attempts if self.in_review else 0
        if (round_ == 0 and lesson_id in self.done) or (round_ > 0 and lesson_id in self.reviewed):
            return
        specs = self._open_session(t)
        (self.done if round_ == 0 else self.reviewed).add(lesson_id)
        specs.append(("progressed", self.reg.session_no, lesson_index, self.progress))
        if round_ == 0 and self.lessons_done:
            specs.append(("completed", self.reg.session_no, t - (self.reg.started_us or t)))
        self._emit(t, specs)

    def answer(self, t: int, question_index: int, correct: bool) -> None:
        if t > self.limit:
            raise _Stop
        question = self.module.questions[question_index]
        specs = self._open_session(t)
        self.answers[question.id] = correct
        specs.append(("answered", self.reg.session_no, question_index, correct, self.reg.attempts + 1))
        self._emit(t, specs)

    def submit(self, t: int) -> bool:
        if t > self.limit:
            raise _Stop
        reg, module = self.reg, self.module
        raw = sum(1 for correct in self.answers.values() if correct)
        maximum = len(module.questions)
        passed = raw / maximum + 1e-9 >= module.mastery
        specs = self._open_session(t)
        specs.append(("judged", reg.session_no, passed, raw, t - (reg.started_us or t)))
        reg.attempts += 1
        if passed or (module.max_attempts and reg.attempts >= module.max_attempts):
            reg.status = "finished"
            reg.finished_us = t
            specs.append(("terminated", reg.session_no, t - (reg.session_started_us or t)))
            reg.session_open = False
        reg.passed = reg.passed or passed
        wrong = [qid for qid, correct in self.answers.items() if not correct]
        wanted = {q.lesson for q in module.questions if q.id in wrong}
        self.to_review = [lesson[0] for lesson in module.lessons if lesson[0] in wanted]
        self.reviewed = set()
        self.answers = {}
        self.last_passed = passed
        self._emit(t, specs)
        return passed

    def leave(self, t: int) -> None:
        reg = self.reg
        if reg.status == "finished" or not reg.session_open or reg.started_us is None:
            return
        if t > self.limit:
            raise _Stop
        specs = [("suspended", reg.session_no, self.progress),
                 ("terminated", reg.session_no, t - (reg.session_started_us or t))]
        reg.session_open = False
        reg.suspended = True
        self._emit(t, specs)

    def bookmark(self) -> str:
        if self.reg.status == "finished":
            return "result"
        if self.reg.started_us is None:
            return ""
        if self.in_review and self.review_pending:
            return f"lesson:{self.review_pending[0]}"
        if self.lessons_done:
            return "quiz"
        return next(f"lesson:{lesson[0]}" for lesson in self.module.lessons if lesson[0] not in self.done)


def run_journey(player: Player, t0: int) -> None:
    """Drive the player through the registration's journey; time runs on in minutes, sessions break off
    (logout: suspended + terminated) and resume hours or days later."""
    rng, module, journey = player.rng, player.module, player.reg.journey
    pace = min(2.2, max(0.45, rng.lognormvariate(0, 0.35)))  # this learner's reading speed
    lesson_minutes = module.minutes * 0.8 / max(1, len(module.lessons)) * pace
    clock = [t0]

    def later(minutes: float) -> int:
        step = int(minutes * MINUTE * rng.uniform(0.6, 1.5))
        if rng.random() < 0.015:  # the learner leaves and comes back another time
            player.leave(clock[0] + rng.randrange(MINUTE // 2, 3 * MINUTE))
            step += rng.choice([rng.randrange(HOUR, 8 * HOUR), rng.randrange(DAY, 10 * DAY)])
        clock[0] += step
        return clock[0]

    def stop_here() -> None:
        if rng.random() < 0.5:
            player.leave(later(rng.uniform(0.5, 3)))

    def quiz_attempt(pass_it: bool) -> bool:
        questions = len(module.questions)
        if pass_it:
            wrong = set(rng.sample(range(questions), rng.randint(0, module.allowed_wrong)))
        else:
            count = rng.randint(module.allowed_wrong + 1, min(questions, module.allowed_wrong + 4))
            wrong = set(rng.sample(range(questions), count))
        for index in range(questions):
            player.answer(later(rng.uniform(0.3, 1.2)), index, index not in wrong)
        return player.submit(later(0.2))

    def review() -> None:
        for lesson_id in list(player.review_pending):
            index = next(i for i, lesson in enumerate(module.lessons) if lesson[0] == lesson_id)
            player.lesson(later(lesson_minutes * 0.5), index)

    player.enrol(t0)
    if journey == "not_started":
        return
    player.open_player(later(0.1))
    lessons = len(module.lessons)
    if journey == "abandoned":
        for index in range(rng.randint(0, 1)):
            player.lesson(later(lesson_minutes), index)
        stop_here()
        return
    if journey == "in_progress":
        for index in range(rng.randint(1, max(1, lessons - 1))):
            player.lesson(later(lesson_minutes), index)
        stop_here()
        return
    for index in range(lessons):
        player.lesson(later(lesson_minutes), index)
    if journey == "lessons_done":
        for index in range(rng.randint(0, len(module.questions) - 1)):
            player.answer(later(rng.uniform(0.3, 1.2)), index, rng.random() < 0.8)
        stop_here()
        return
    if journey == "passed":
        quiz_attempt(True)
        return
    attempts = module.max_attempts or 3
    if journey == "passed_on_retry":
        for attempt in range(1, attempts + 1):
            last = attempt == attempts or rng.random() < 0.7
            if quiz_attempt(last):
                return
            review()
        return
    if journey == "failed_out":
        for _attempt in range(attempts):
            if quiz_attempt(False) or player.reg.status == "finished":
                return
            review()
        return
    # failed_open: failed once (or twice) and has not tried again yet, sometimes part-way through the review
    quiz_attempt(False)
    if rng.random() < 0.3 and player.reg.status != "finished":
        review()
        quiz_attempt(False)
    if player.reg.status != "finished" and rng.random() < 0.5:
        pending = player.review_pending
        for lesson_id in pending[:rng.randint(0, len(pending))]:
            player.lesson(later(lesson_minutes * 0.5), next(i for i, lesson in enumerate(module.lessons)
                                                           if lesson[0] == lesson_id))
    stop_here()


def mean_statements(modules: list[ModuleInfo], journeys: dict[str, float], seed: int) -> float:
    """The expected statements of a registration with this journey mix (simulated, nothing kept)."""
    rng = random.Random(seed)
    total = count = 0
    for journey, weight in journeys.items():
        samples = max(1, int(weight * 20))
        for _ in range(samples):
            module = rng.choice(modules)
            reg = Reg(0, 0, 0, "", 0, journey)
            run_journey(Player(reg, module, rng, 1 << 62, []), 0)
            total += reg.statements * weight / samples
        count += weight
    return total / count


def plan_registrations(rng: random.Random, orgs: list[Org], people: list[Person], modules: list[ModuleInfo],
                       statements: int, seed: int, start_us: int, now_us: int) -> tuple[list[Reg], list[Action], dict]:
    """Who enrols in what and when, and every statement of their journeys (as specs, in time order)."""
    by_path: dict[int, list[int]] = defaultdict(list)
    for index, module in enumerate(modules):
        by_path[module.path_index].append(index)
    org_of = {org.id: org for org in orgs}

    def pick_module(person: Person, taken: set[int]) -> int | None:
        kind = org_of[person.org].kind if person.org else "other"
        weights = PATH_PREFERENCE[kind]
        for _ in range(20):
            if taken and rng.random() < 0.7:
                path = modules[rng.choice(sorted(taken))].path_index
            else:
                path = rng.choices(range(len(weights)), weights=weights)[0] % max(1, len(by_path))
            candidates = [m for m in by_path.get(path) or range(len(modules)) if m not in taken]
            if candidates:
                # The path's first module is the usual way in; later ones are taken less often.
                return rng.choices(candidates, weights=[3 if i == 0 else 1 for i in range(len(candidates))])[0]
        rest = [m for m in range(len(modules)) if m not in taken]
        return rng.choice(rest) if rest else None

    enrolments: list[tuple[int, int, int]] = []  # (person index, module index, created µs)
    for person_index, person in enumerate(people):
        if person.roles or person.org is None:
            continue
        org = org_of[person.org]
        if rng.random() >= org.engagement:
            continue
        count = min(len(modules), weighted(rng, MODULES_PER_LEARNER))
        moment = first = growth_moment(rng, start_us, now_us - HOUR)
        taken: set[int] = set()
        for _ in range(count):
            module = pick_module(person, taken)
            if module is None or moment >= now_us - HOUR:
                break
            taken.add(module)
            enrolments.append((person_index, module, moment))
            moment += int(rng.expovariate(1 / 20) * DAY) + rng.randrange(HOUR)
        if taken:  # the account, and its company, existed before the first enrolment
            person.created_us = first - rng.randrange(MINUTE, 30 * DAY)
            org.created_us = min(org.created_us, person.created_us - rng.randrange(DAY, 45 * DAY))
    for person in people:
        if person.org is not None and "org_admin" in person.roles:
            person.created_us = org_of[person.org].created_us

    # Solve the share of graded journeys so the statements add up to the target.
    unfinished = mean_statements(modules, UNFINISHED, seed + 1)
    graded = mean_statements(modules, GRADED, seed + 2)
    wanted = statements / max(1, len(enrolments))
    share = (wanted - unfinished) / (graded - unfinished)
    solved = {"registrations": len(enrolments), "statements_per_registration": round(wanted, 2),
              "mean_unfinished": round(unfinished, 2), "mean_graded": round(graded, 2),
              "graded_share": round(share, 3)}
    if not 0.1 <= share <= 0.9:
        say(f"NOTICE: {statements:,} statements over {len(enrolments):,} registrations needs a graded share of "
            f"{share:.2f}; clamped to [0.1, 0.9], the statement count will miss its target")
        share = min(0.9, max(0.1, share))

    regs: list[Reg] = []
    actions: list[Action] = []
    for person_index, module_index, created in enrolments:
        graded_journey = rng.random() < share
        journey = weighted(rng, GRADED if graded_journey else UNFINISHED)
        index = len(regs)
        reg = Reg(index, person_index, module_index, stable_uuid(seed, "registration", index), created, journey)
        player = Player(reg, modules[module_index], rng, now_us - MINUTE, actions)
        try:
            run_journey(player, created)
        except _Stop:
            pass
        reg.bookmark = player.bookmark()
        regs.append(reg)
    actions.sort(key=lambda action: (action[0], action[1], action[2]))
    return regs, actions, solved


# ---------------------------------------------------------------- statements and the rows ingest would write


def service_authority() -> dict:
    """The authority the player's statements carry (``service_credential().authority()``)."""
    from lms_service.lrs.clients import service_credential

    return service_credential().authority()


def build_statement(spec: tuple, t: int, position: int, reg: Reg, person: Person, module: ModuleInfo,
                    base_url: str, seed: int) -> dict:
    """One statement as the player builds it (``xapi.builders``), with a deterministic id."""
    verb, session_no = spec[0], spec[1]
    language = person.language if person.language in module.languages else module.languages[0]
    session = builders.ModuleSession(
        home_page=base_url, account_name=person.account, registration=reg.registration, module_iri=module.iri,
        module_title=module.title, module_version=module.version, language=language,
        session_id=stable_uuid(seed, "session", reg.registration, session_no),
        path_iri=module.path_iri, path_title=module.path_title)
    # The player's _Clock: the statements of one action are a microsecond apart.
    when = to_datetime(t + position + 1)
    if verb == "launched":
        statement = builders.launched(session, when)
    elif verb == "initialized":
        statement = builders.initialized(session, when)
    elif verb == "resumed":
        statement = builders.resumed(session, when)
    elif verb == "suspended":
        statement = builders.suspended(session, spec[2], when)
    elif verb == "terminated":
        statement = builders.terminated(session, dt.timedelta(microseconds=spec[2]), when)
    elif verb == "progressed":
        _lesson_id, lesson_iri, title = module.lessons[spec[2]]
        statement = builders.progressed(session, lesson_iri, title, spec[3], when)
    elif verb == "completed":
        statement = builders.completed(session, dt.timedelta(microseconds=spec[2]), when)
    elif verb == "answered":
        question = module.questions[spec[2]]
        statement = builders.answered(session, question.iri, question.definition,
                                      question.responses[(language, spec[3])], spec[3], spec[4], when)
    elif verb == "judged":
        maximum = len(module.questions)
        statement = builders.judged(session, spec[2], spec[3] / maximum if maximum else 0.0, spec[3], maximum,
                                    dt.timedelta(microseconds=spec[4]), when)
    else:
        raise ValueError(verb)
    statement["id"] = stable_uuid(seed, "statement", reg.registration, t, position)
    return statement


def stored_text(stored: dt.datetime) -> str:
    # As lrs/ingest.py: millisecond precision, "Z".
    return stored.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def lookup_rows(statement: dict) -> tuple[list[tuple], list[tuple]]:
    """The agent and activity lookup rows of a prepared statement, as ``lrs.ingest._store`` derives them:
    (key, verb, related, registration), related False where the key is also a direct match."""
    verb = statement["verb"]["id"]
    registration = (statement.get("context") or {}).get("registration")
    registration = registration.lower() if registration else None
    direct = identity.actors_in(statement, related=False)
    agents = [(ifi, verb, ifi not in direct, registration) for ifi in identity.actors_in(statement, related=True) | direct]
    direct = identity.activities_in(statement, related=False)
    activities = [(aid, verb, aid not in direct, registration)
                  for aid in identity.activities_in(statement, related=True) | direct]
    return agents, activities


def statement_row(statement: dict, pk: int, stored: dt.datetime, organisation_id: int | None) -> dict:
    """The lrs_statements row, column for column as ``lrs.ingest._store`` writes it for the player (the service
    credential narrowed to the learner's organisation)."""
    registration = (statement.get("context") or {}).get("registration")
    return {"pk": pk, "statement_id": statement["id"].lower(), "stored": stored, "verb_id": statement["verb"]["id"],
            "registration": registration.lower() if registration else None, "ref_target": None, "voided": False,
            "is_voiding": False, "version": VERSION, "client_id": None, "organisation_id": organisation_id,
            "has_attachments": bool(statement.get("attachments")), "body": statement}


def verify_against_ingest(samples: list[tuple[dict, int | None]], authority: dict) -> int:
    """Store ``samples`` (statement, organisation) through the real ingest path in a transaction that is rolled
    back, and check that the rows this script writes for them are the same. Hooks are set aside meanwhile
    (they would write projections and certificates); returns the statements checked."""
    from lms_service.extensions import db
    from lms_service.lrs import ingest
    from lms_service.lrs.clients import Credential
    from lms_service.lrs.models import Statement, StatementActivity, StatementAgent

    hooks = list(ingest._hooks)
    for hook in hooks:
        ingest.unregister_ingest_hook(hook)
    problems: list[str] = []
    try:
        by_org: dict[int | None, list[dict]] = defaultdict(list)
        for statement, org in samples:
            by_org[org].append(statement)
        for org, statements in by_org.items():
            ingest.stage_statements([json.loads(json.dumps(s)) for s in statements], version=VERSION,
                                    authority=authority,
                                    client=Credential(None, authority["name"], frozenset({"all"}), org))
        for statement, org in samples:
            prepared = formatting.prepare_for_storage(statement, version=VERSION, authority=authority,
                                                      stored="1970-01-01T00:00:00.000Z")
            mine = statement_row(prepared, 0, dt.datetime.now(dt.UTC), org)
            stored = db.session.execute(sa.select(Statement).where(
                Statement.statement_id == mine["statement_id"])).scalar_one()
            for column in ("verb_id", "registration", "ref_target", "voided", "is_voiding", "version", "client_id",
                           "organisation_id", "has_attachments"):
                if getattr(stored, column) != mine[column]:
                    problems.append(f"{mine['statement_id']} {column}: ingest {getattr(stored, column)!r}, "
                                    f"bench {mine[column]!r}")
            body = {k: v for k, v in stored.body.items() if k != "stored"}
            if body != {k: v for k, v in prepared.items() if k != "stored"}:
                problems.append(f"{mine['statement_id']} body differs")
            agents, activities = lookup_rows(prepared)
            theirs_agents = {(r.ifi, r.verb_id, r.related, r.registration) for r in db.session.execute(
                sa.select(StatementAgent).where(StatementAgent.statement_pk == stored.pk)).scalars()}
            theirs_activities = {(r.activity_id, r.verb_id, r.related, r.registration) for r in db.session.execute(
                sa.select(StatementActivity).where(StatementActivity.statement_pk == stored.pk)).scalars()}
            if set(agents) != theirs_agents:
                problems.append(f"{mine['statement_id']} agent rows: ingest {theirs_agents}, bench {set(agents)}")
            if set(activities) != theirs_activities:
                problems.append(f"{mine['statement_id']} activity rows: ingest {theirs_activities}, "
                                f"bench {set(activities)}")
    finally:
        db.session.rollback()
        for hook in hooks:
            ingest.register_ingest_hook(hook)
    if problems:
        raise SystemExit("the bench rows differ from what the ingest path stores:\n  " + "\n  ".join(problems[:20]))
    return len(samples)


# ---------------------------------------------------------------- writing rows fast


def _pg_value(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date):
        value = value.isoformat()
    elif isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return lrs_bulk_load._copy_text(value)


class Writer:
    """COPY on PostgreSQL, executemany (SQLAlchemy Core, so values are stored exactly as the service stores
    them) on SQLite. Commits after every ``write``."""

    def __init__(self) -> None:
        from lms_service.extensions import db

        self.engine = db.engine
        self.postgres = self.engine.dialect.name == "postgresql"
        if self.postgres:
            self.raw = self.engine.raw_connection()
            self.pg = self.raw.driver_connection
        else:
            self.conn = self.engine.connect()

    def write(self, table: sa.Table, rows: list[dict]) -> None:
        if not rows:
            return
        columns = list(rows[0])
        if self.postgres:
            buffer = io.StringIO()
            for row in rows:
                buffer.write("\t".join(_pg_value(row[c]) for c in columns))
                buffer.write("\n")
            with self.pg.cursor() as cursor, cursor.copy(
                    f'COPY {table.name} ({", ".join(columns)}) FROM STDIN') as copy:
                copy.write(buffer.getvalue())
            self.pg.commit()
        else:
            self.conn.execute(sa.insert(table), rows)
            self.conn.commit()

    def execute(self, sql: str) -> None:
        if self.postgres:
            with self.pg.cursor() as cursor:
                cursor.execute(sql)
            self.pg.commit()
        else:
            self.conn.execute(sa.text(sql))
            self.conn.commit()

    def fetch(self, sql: str) -> list[tuple]:
        if self.postgres:
            with self.pg.cursor() as cursor:
                rows = cursor.execute(sql).fetchall()
            self.pg.commit()  # no transaction left open: VACUUM and DROP INDEX must not wait for it
            return rows
        return [tuple(row) for row in self.conn.execute(sa.text(sql)).all()]

    def reset_sequences(self, tables: list[tuple[str, str]]) -> None:
        if self.postgres:
            for table, column in tables:
                self.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                             f"(SELECT coalesce(max({column}), 1) FROM {table}))")

    def drop_secondary_indexes(self, tables: list[str]) -> list[tuple[str, str]]:
        """Drop the non-unique indexes of ``tables`` (PostgreSQL): rebuilding them after the load is far faster
        than maintaining them row by row. Returns (name, definition) to recreate."""
        if not self.postgres:
            return []
        names = ", ".join(f"'{t}'" for t in tables)
        indexes = self.fetch(f"SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ({names}) "
                             "AND indexname NOT LIKE 'pk_%' AND indexname NOT LIKE 'uq_%'")
        for name, _definition in indexes:
            self.execute(f'DROP INDEX "{name}"')
        return indexes

    def close(self) -> None:
        if self.postgres:
            self.raw.close()
        else:
            self.conn.close()


def write_people(writer: Writer, orgs: list[Org], people: list[Person], password_hash: str) -> None:
    from lms_service.accounts.models import User, UserRole
    from lms_service.orgs.models import Organisation

    writer.write(Organisation.__table__, [
        {"id": o.id, "name": o.name, "org_number": o.org_number, "county": o.county, "kind": o.kind,
         "created_at": to_datetime(o.created_us)} for o in orgs])
    for start in range(0, len(people), 50_000):
        writer.write(User.__table__, [
            {"id": p.id, "email": p.email, "display_name": p.name, "language": p.language,
             "password_hash": password_hash, "organisation_id": p.org, "xapi_account_name": p.account,
             "active": True, "created_at": to_datetime(p.created_us), "session_version": 1}
            for p in people[start:start + 50_000]])
    writer.write(UserRole.__table__, [{"user_id": p.id, "role": role} for p in people for role in p.roles])
    writer.reset_sequences([("organisations", "id"), ("users", "id")])


def write_registrations(writer: Writer, regs: list[Reg], people: list[Person], modules: list[ModuleInfo],
                        seed: int) -> None:
    from lms_service.learning.models import Registration

    def row(reg: Reg) -> dict:
        module = modules[reg.module]
        return {"id": reg.index + 1, "registration": reg.registration, "user_id": people[reg.person].id,
                "module_id": module.id, "module_version_id": module.version_id, "status": reg.status,
                "created_at": to_datetime(reg.created_us),
                "started_at": to_datetime(reg.started_us) if reg.started_us is not None else None,
                "finished_at": to_datetime(reg.finished_us) if reg.finished_us is not None else None,
                "attempts": reg.attempts, "bookmark": reg.bookmark,
                "session_id": stable_uuid(seed, "session", reg.registration, reg.session_no),
                "session_started_at": to_datetime(reg.session_started_us) if reg.session_started_us else None,
                "session_open": reg.session_open, "suspended": reg.suspended}

    for start in range(0, len(regs), 50_000):
        writer.write(Registration.__table__, [row(reg) for reg in regs[start:start + 50_000]])
    writer.reset_sequences([("learning_registrations", "id")])


def write_statements(writer: Writer, actions: list[Action], regs: list[Reg], people: list[Person],
                     modules: list[ModuleInfo], orgs_by_person: dict[int, int | None], base_url: str,
                     authority: dict, seed: int) -> tuple[int, int, int, int]:
    """Build every planned statement and write it with its lookup rows, in ``stored`` order (pk order is
    stored order, as in a live LRS). Returns (statements, agent rows, activity rows, activities)."""
    from lms_service.lrs import ingest
    from lms_service.lrs.models import (
        Activity,
        Statement,
        StatementActivity,
        StatementAgent,
    )

    tables = ["lrs_statements", "lrs_statement_agents", "lrs_statement_activities"]
    indexes = writer.drop_secondary_indexes(tables)
    definitions: dict[str, dict] = {}
    pk = agents_total = activities_total = 0
    statements: list[dict] = []
    agent_rows: list[dict] = []
    activity_rows: list[dict] = []
    started = time.perf_counter()

    def flush() -> None:
        writer.write(Statement.__table__, statements)
        writer.write(StatementAgent.__table__, agent_rows)
        writer.write(StatementActivity.__table__, activity_rows)
        statements.clear()
        agent_rows.clear()
        activity_rows.clear()

    for stored_us, reg_index, t, specs in actions:
        reg = regs[reg_index]
        person = people[reg.person]
        module = modules[reg.module]
        stored = to_datetime(stored_us)
        text = stored_text(stored)
        for position, spec in enumerate(specs):
            built = build_statement(spec, t, position, reg, person, module, base_url, seed)
            prepared = formatting.prepare_for_storage(built, version=VERSION, authority=authority, stored=text)
            pk += 1
            statements.append(statement_row(prepared, pk, stored, orgs_by_person[reg.person]))
            agents, activities = lookup_rows(prepared)
            for ifi, verb, related, registration in agents:
                agent_rows.append({"statement_pk": pk, "ifi": ifi, "related": related, "verb_id": verb,
                                   "registration": registration, "stored": stored})
            for aid, verb, related, registration in activities:
                activity_rows.append({"statement_pk": pk, "activity_id": aid, "related": related, "verb_id": verb,
                                      "registration": registration, "stored": stored})
            agents_total += len(agents)
            activities_total += len(activities)
            for activity in ingest._activity_objects(prepared):
                aid = activity.get("id")
                if aid and activity.get("definition") and aid not in definitions:
                    definitions[aid] = activity["definition"]
        if len(statements) >= CHUNK:
            flush()
            rate = pk / (time.perf_counter() - started)
            say(f"  {pk:>10,} statements ({rate:,.0f}/s)")
    flush()
    writer.write(Activity.__table__, [{"activity_id": aid, "definition": definition}
                                      for aid, definition in sorted(definitions.items())])
    if indexes:
        say(f"  rebuilding {len(indexes)} indexes ...")
        for _name, definition in indexes:
            writer.execute(definition)
    writer.reset_sequences([("lrs_statements", "pk")])
    return pk, agents_total, activities_total, len(definitions)


# ---------------------------------------------------------------- derived data and the rest


def issue_certificates(modules: list[ModuleInfo]) -> tuple[int, str]:
    """Certificates through the service: a one-year policy on one module (so some have expired), then
    ``issue_missing()`` (what ``flask certificates issue-missing`` runs after a rebuild)."""
    from lms_service.certificates import services

    short = next((m for m in modules if m.slug == SHORT_VALIDITY_MODULE), modules[-1])
    services.set_policy(short.iri, 365, 60)
    return services.issue_missing(), short.slug


def revoke_some(rng: random.Random, count: int) -> int:
    """A few revoked certificates (through the service), as an admin does after a mistake."""
    from lms_service.accounts.models import Role, User, UserRole
    from lms_service.certificates import services
    from lms_service.certificates.models import Certificate
    from lms_service.extensions import db

    admin = db.session.execute(sa.select(User).join(UserRole).where(UserRole.role == Role.admin.value)
                               .order_by(User.id).limit(1)).scalar_one()
    ids = list(db.session.execute(sa.select(Certificate.id).order_by(Certificate.id)).scalars())
    revoked = 0
    for certificate_id in sorted(rng.sample(ids, min(count, len(ids)))):
        services.revoke_certificate(db.session.get(Certificate, certificate_id), admin, "Bench: issued by mistake")
        revoked += 1
    return revoked


def write_assignments_and_grants(writer: Writer, rng: random.Random, orgs: list[Org], people: list[Person],
                                 now_us: int) -> tuple[int, int]:
    """Assignments (some due, some overdue) and coordinator grants. Written directly: the assign service
    refuses due dates in the past, and neither has anything to derive from."""
    from lms_service.certificates import services
    from lms_service.certificates.models import Assignment
    from lms_service.reports.models import CoordinatorGrant

    subjects = services.list_subjects()
    paths = [s for s in subjects if s.kind == "path"]
    module_subjects = [s for s in subjects if s.kind == "module"]
    members: dict[int, list[Person]] = defaultdict(list)
    admins: dict[int, list[Person]] = defaultdict(list)
    for person in people:
        if person.org is not None:
            (admins if "org_admin" in person.roles else members)[person.org].append(person)
    biggest = max(orgs, key=lambda o: o.size)
    rows: list[dict] = []
    for org in orgs:
        if org is not biggest and rng.random() >= 0.4:
            continue
        by = rng.choice(admins[org.id])
        for _round in range(rng.randint(1, 3)):
            subject = rng.choice(paths) if rng.random() < 0.6 else rng.choice(module_subjects)
            created = rng.randrange(max(org.created_us, now_us - 365 * DAY), now_us - DAY)
            due = (to_datetime(created) + dt.timedelta(days=rng.choice([30, 60, 90]))).date()
            employees = members[org.id]
            for person in rng.sample(employees, max(1, int(len(employees) * rng.uniform(0.1, 0.6)))):
                rows.append({"organisation_id": org.id, "user_id": person.id, "subject_kind": subject.kind,
                             "subject_iri": subject.iri, "subject_title": dict(subject.title), "due_date": due,
                             "assigned_by_id": by.id, "created_at": to_datetime(created)})
    unique: dict[tuple[int, str], dict] = {}
    for row in rows:  # a second assignment of the same subject moves the due date (as assign() does)
        unique[(row["user_id"], row["subject_iri"])] = row
    rows = list(unique.values())
    for index, row in enumerate(rows):
        row["id"] = index + 1
    writer.write(Assignment.__table__, rows)
    writer.reset_sequences([("certificate_assignments", "id")])
    granting = [org for org in orgs if rng.random() < 0.06] or [orgs[0]]
    writer.write(CoordinatorGrant.__table__, [
        {"organisation_id": org.id, "granted_by_id": admins[org.id][0].id,
         "granted_at": to_datetime(rng.randrange(org.created_us, now_us))} for org in granting])
    return len(rows), len(granting)


def analyze(writer: Writer) -> None:
    if writer.postgres:
        writer.pg.autocommit = True
        with writer.pg.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        writer.pg.autocommit = False
    else:
        writer.execute("ANALYZE")


# Tables the service derives from the statements and registrations alone: a stale one is dropped, created
# from the models and filled again by rebuild_reports().
DERIVED_TABLES = ("learning_progress", "report_enrolments")


def schema_drift() -> dict[str, list[str]]:
    """Per table: the columns and indexes of the models that the database lacks, or has in excess."""
    from lms_service.extensions import db

    inspector = sa.inspect(db.engine)
    existing = set(inspector.get_table_names())
    drift: dict[str, list[str]] = {}
    for table in db.metadata.sorted_tables:
        if table.name not in existing:
            drift[table.name] = ["missing table"]
            continue
        problems = []
        stored = {c["name"] for c in inspector.get_columns(table.name)}
        wanted = {c.name for c in table.columns}
        problems += [f"column {c} missing" for c in sorted(wanted - stored)]
        problems += [f"column {c} not in the model" for c in sorted(stored - wanted)]
        postgres = db.engine.dialect.name == "postgresql"
        stored_ix = {ix["name"]: (tuple(ix["column_names"]),
                                  tuple(ix.get("dialect_options", {}).get("postgresql_include", ())))
                     for ix in inspector.get_indexes(table.name)}
        for index in sorted(table.indexes, key=lambda ix: ix.name):
            include = tuple(index.dialect_options["postgresql"].get("include") or ()) if postgres else ()
            shape = (tuple(c.name for c in index.columns), include)
            if index.name not in stored_ix:
                problems.append(f"index {index.name} missing")
            elif stored_ix[index.name] != shape:
                problems.append(f"index {index.name} differs")
        if problems:
            drift[table.name] = problems
    return drift


def sync_indexes(drift: dict[str, list[str]]) -> None:
    """Create the models' missing indexes, and recreate those whose columns differ."""
    from lms_service.extensions import db

    for name, problems in drift.items():
        table = db.metadata.tables[name]
        for index in table.indexes:
            if f"index {index.name} differs" in problems:
                index.drop(db.engine)
            if f"index {index.name} missing" in problems or f"index {index.name} differs" in problems:
                say(f"{name}: creating index {index.name} from the model")
                index.create(db.engine)


def refresh_projections(url: str) -> None:
    """On a database this script built: bring it to the current models where that loses no generated data
    (the migrations may have been edited in place since): missing or changed indexes are created, derived
    tables recreated; then time ``rebuild_reports()`` again. Nothing is generated."""
    from lms_service import create_app
    from lms_service.extensions import db
    from lms_service.reports.projection import rebuild_reports

    timings = Timings()
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING", "RATELIMIT_ENABLED": False})
    with app.app_context():
        drift = schema_drift()
        others = {name: [p for p in problems if not p.startswith("index ")] for name, problems in drift.items()
                  if name not in DERIVED_TABLES}
        if any(others.values()):
            raise SystemExit("these tables differ from the models and hold generated data; regenerate the "
                             f"database (--recreate): { {k: v for k, v in others.items() if v} }")
        sync_indexes({name: problems for name, problems in drift.items() if name not in DERIVED_TABLES})
        for name in DERIVED_TABLES:
            if name in drift:
                say(f"{name}: {', '.join(drift[name])}: dropped and created from the model")
                table = db.metadata.tables[name]
                table.drop(db.engine, checkfirst=True)
                table.create(db.engine)
        with timings.phase("rebuild_reports"):
            progress_rows, report_rows = rebuild_reports()
            say(f"  learning_progress {progress_rows:,} rows, report_enrolments {report_rows:,} rows")
        with timings.phase("analyze"):
            writer = Writer()
            analyze(writer)
            writer.close()
    print(json.dumps({"refreshed": sorted(set(drift) & set(DERIVED_TABLES)), "timings_s": timings.phases}))


def table_counts() -> dict[str, int]:
    from lms_service.extensions import db

    with db.engine.connect() as conn:
        return {table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for table in db.metadata.sorted_tables}


# ---------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=100_000)
    parser.add_argument("--companies", type=int, default=300)
    parser.add_argument("--statements", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--now", help="the present of the data set (ISO 8601, UTC); default: now")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--recreate", action="store_true", help="drop the database (or SQLite file) first")
    parser.add_argument("--revoke", type=int, default=20, help="certificates to revoke (default 20)")
    parser.add_argument("--refresh-projections", action="store_true",
                        help="generate nothing: on a database built earlier, recreate the derived tables if the "
                             "models changed, and time rebuild_reports() again")
    args = parser.parse_args()
    if not args.database_url:
        parser.error("set DATABASE_URL or --database-url")
    if args.refresh_projections:
        os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production-use-0123456789")
        refresh_projections(args.database_url.replace("postgres://", "postgresql://", 1))
        return
    if args.learners < args.companies * 5:
        parser.error("at least 5 learners per company")
    url = args.database_url.replace("postgres://", "postgresql://", 1)
    now = dt.datetime.fromisoformat(args.now).astimezone(dt.UTC) if args.now else \
        dt.datetime.now(dt.UTC).replace(microsecond=0)
    now_us = to_micros(now)
    start_us = now_us - HISTORY_DAYS * DAY
    timings = Timings()
    rng = random.Random(args.seed)
    overall = time.perf_counter()

    with timings.phase("create database"):
        ensure_database(url, args.recreate)
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-production-use-0123456789")
    from lms_service import create_app
    from lms_service.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "LOG_LEVEL": "WARNING", "RATELIMIT_ENABLED": False})
    report: dict[str, Any] = {"database": url.split("@")[-1], "seed": args.seed, "now": now.isoformat(),
                              "password": PASSWORD}
    with app.app_context():
        base_url = app.config["BASE_URL"]
        with timings.phase("migrate"):
            report["tables_created_from_models"] = migrate()
        refuse_non_empty()
        with timings.phase("import catalogue"):
            report["modules_imported"] = import_catalogue()
        modules, _paths = load_catalogue()
        db.session.remove()

        with timings.phase("plan"):
            from lms_service.accounts.passwords import hash_password

            password_hash = hash_password(PASSWORD)  # one argon2 hash for every account
            orgs, people = plan_people(rng, args.learners, args.companies, start_us, now_us)
            regs, actions, solved = plan_registrations(rng, orgs, people, modules, args.statements, args.seed,
                                                       start_us, now_us)
            report["plan"] = solved
            journeys = Counter(reg.journey for reg in regs)
            say(f"  {len(orgs)} companies, {len(people):,} users, {len(regs):,} registrations, "
                f"{sum(len(a[3]) for a in actions):,} statements planned; journeys {dict(journeys)}")

        writer = Writer()
        authority = service_authority()
        orgs_by_person = {index: person.org for index, person in enumerate(people)}
        with timings.phase("write companies and users"):
            write_people(writer, orgs, people, password_hash)
        with timings.phase("check rows against the ingest path"):
            # One registration of every journey, and one that was suspended and resumed: every verb and shape.
            chosen = {journey: next(r.index for r in regs if r.journey == journey) for journey in journeys}
            chosen["resumed"] = next((r.index for r in regs if r.session_no > 1), 0)
            wanted = set(chosen.values())
            samples = []
            for _stored, reg_index, t, specs in actions:
                if reg_index in wanted:
                    reg = regs[reg_index]
                    samples += [(build_statement(spec, t, position, reg, people[reg.person], modules[reg.module],
                                                 base_url, args.seed), orgs_by_person[reg.person])
                                for position, spec in enumerate(specs)]
            report["verified_statements"] = verify_against_ingest(samples, authority)
            say(f"  {len(samples)} statements of {len(wanted)} registrations stored alike")
            db.session.remove()
        with timings.phase("write registrations"):
            write_registrations(writer, regs, people, modules, args.seed)
        with timings.phase("write statements"):
            count, agent_rows, activity_rows, activities = write_statements(
                writer, actions, regs, people, modules, orgs_by_person, base_url, authority, args.seed)
            report["statements_written"] = count
            say(f"  {count:,} statements, {agent_rows:,} agent rows, {activity_rows:,} activity rows, "
                f"{activities} activity definitions")
        del actions
        with timings.phase("analyze"):
            analyze(writer)

        with timings.phase("rebuild_reports"):
            from lms_service.reports.projection import rebuild_reports

            progress_rows, report_rows = rebuild_reports()
            say(f"  learning_progress {progress_rows:,} rows, report_enrolments {report_rows:,} rows")
        with timings.phase("issue certificates (issue_missing)"):
            issued, short = issue_certificates(modules)
            report["certificates_issued"] = issued
            report["short_validity_module"] = short
            say(f"  {issued:,} certificates issued")
        with timings.phase("revoke a few certificates"):
            report["certificates_revoked"] = revoke_some(rng, args.revoke)
        db.session.remove()
        with timings.phase("assignments and coordinator grants"):
            report["assignments"], report["grants"] = write_assignments_and_grants(writer, rng, orgs, people, now_us)
        with timings.phase("analyze again"):
            analyze(writer)
        writer.close()
        report["counts"] = table_counts()

    report["timings_s"] = timings.phases
    report["total_s"] = round(time.perf_counter() - overall, 1)
    biggest = max(orgs, key=lambda o: o.size)
    report["biggest_company"] = {"id": biggest.id, "name": biggest.name, "learners": biggest.size,
                                 "org_admin": f"orgadmin{biggest.id}-1@{EMAIL_DOMAIN}"}
    print("\nphase timings (s):")
    for name, seconds in timings.phases.items():
        print(f"  {name:<40} {seconds:>9.1f}")
    print(f"  {'total':<40} {report['total_s']:>9.1f}")
    print("\nrows per table:")
    for name, count in sorted(report["counts"].items()):
        if count:
            print(f"  {name:<40} {count:>11,}")
    print(f"\nbiggest company: {biggest.name} (id {biggest.id}, {biggest.size:,} learners), "
          f"log in as {report['biggest_company']['org_admin']}; coordinator1@{EMAIL_DOMAIN}, admin1@{EMAIL_DOMAIN}; "
          f"password {PASSWORD}")
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    target = results / f"reports_data_{dt.datetime.now():%Y%m%d_%H%M%S}_{'pg' if is_postgres(url) else 'sqlite'}.json"
    target.write_text(json.dumps(report, indent=2, default=str))
    print(f"written {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
