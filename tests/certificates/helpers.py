"""Building blocks for the certificate tests: catalogue rows, registrations, and passes that go through the
real LRS ingest path (so the learning projection hook and the certificate hook both run)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import current_app

from lms_service.accounts.models import User
from lms_service.extensions import db
from lms_service.learning.models import Registration
from lms_service.lrs.clients import service_credential
from lms_service.lrs.ingest import ingest_statements
from lms_service.packages.models import LearningPath, LearningPathModule, Module, ModuleVersion
from xapi import builders

BASE_IRI = "https://id.lms-service.org/modules/"


def make_module(slug: str, title_sv: str = "Energikartläggning", title_en: str = "Energy mapping",
                version: str = "1.2.0") -> int:
    major, minor, patch = (int(p) for p in version.split("."))
    module = Module(iri=BASE_IRI + slug, slug=slug)
    module.versions.append(ModuleVersion(
        version=version, major=major, minor=minor, patch=patch, content_sha256="0" * 64,
        manifest={"title": {"sv": title_sv, "en": title_en}, "languages": ["sv", "en"], "lessons": []},
        quiz={}, lessons={}, sources={}, published=True))
    db.session.add(module)
    db.session.commit()
    return module.id


def make_path(key: str, slugs: list[str], move_on: str = "Passed", rules: dict | None = None) -> int:
    """``rules`` gives modules their own entry: {slug: {"move_on": "Completed", "required": False}}."""
    path = LearningPath(key=key, iri=f"https://id.lms-service.org/paths/{key}",
                        title={"sv": "Resurseffektivitet", "en": "Resource efficiency"},
                        summary={"sv": "", "en": ""},
                        certificate_title={"sv": "Resurseffektiv produktion", "en": "Resource-efficient production"},
                        move_on=move_on)
    for position, slug in enumerate(slugs):
        rule = (rules or {}).get(slug, {})
        path.modules.append(LearningPathModule(position=position, module_slug=slug, move_on=rule.get("move_on"),
                                               required=rule.get("required", True)))
    db.session.add(path)
    db.session.commit()
    return path.id


def register(user_id: int, slug: str) -> str:
    module = db.session.execute(sa.select(Module).where(Module.slug == slug)).scalar_one()
    registration = Registration(user_id=user_id, module_id=module.id, module_version_id=module.versions[0].id)
    db.session.add(registration)
    db.session.commit()
    return registration.registration


def session_for(user_id: int, slug: str, registration: str) -> builders.ModuleSession:
    user = db.session.get(User, user_id)
    module = db.session.execute(sa.select(Module).where(Module.slug == slug)).scalar_one()
    version = module.versions[0]
    return builders.ModuleSession(home_page=current_app.config["BASE_URL"], account_name=user.xapi_account_name,
                                  registration=registration, module_iri=module.iri,
                                  module_title=version.manifest["title"], module_version=version.version,
                                  language="sv")


def ingest(statements: list[dict]) -> list[str]:
    return ingest_statements(statements, version="2.0.0", authority=service_credential().authority())


def pass_module(user_id: int, slug: str, *, registration: str | None = None, scaled: float = 0.8,
                when: dt.datetime | None = None, passed: bool = True, complete: bool = True) -> str:
    """Store launched, (completed,) passed/failed for the learner through the LRS; returns the registration."""
    registration = registration or register(user_id, slug)
    session = session_for(user_id, slug, registration)
    when = when or dt.datetime.now(dt.UTC)
    statements = [builders.launched(session, when - dt.timedelta(minutes=10))]
    if complete:
        statements.append(builders.completed(session, dt.timedelta(minutes=9), when - dt.timedelta(seconds=1)))
    statements.append(builders.judged(session, passed, scaled, round(scaled * 10), 10, dt.timedelta(minutes=9), when))
    ingest(statements)
    return registration
