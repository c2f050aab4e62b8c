"""A small programme for the report tests: two companies in different counties, modules and a path, learners
with real passes through the LRS ingest path (tests/certificates/helpers.py), and the people who read reports."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest

from lms_service.certificates.models import Assignment
from lms_service.extensions import db
from tests.certificates.helpers import ingest, make_module, make_path, pass_module, register, session_for
from xapi import builders

PASSWORD_USERS = ("admin-a@example.se", "admin-b@example.se", "coord@example.se", "root@example.se",
                  "learner@example.se")


@dataclass
class World:
    org_a: int
    org_b: int
    learners_a: list[int]
    learner_b: int
    overdue_user: int


def enrol(user_id: int, slug: str) -> str:
    """Enrol as the player does: a registration and its launched statement, through the ingest path."""
    registration = register(user_id, slug)
    ingest([builders.launched(session_for(user_id, slug, registration), dt.datetime.now(dt.UTC))])
    return registration


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def world(app, create_org, create_user) -> World:
    """Company A (Stockholm, supplier) with six learners; company B (Västra Götaland, IT firm) with one.

    In A: five pass a1 (scores 0.6, 0.7, 0.8, 0.9, 1.0), one of them also passes a2; the sixth enrolled in
    a1 (a launched statement, as enrolment records) and did nothing more, and has an overdue assignment of
    a2. In B: one learner passes a1.
    """
    org_a = create_org("Komponent AB", county="01", kind="vehicle_supplier")
    org_b = create_org("Kod & Kablar AB", county="14", kind="it_firm")
    create_user(email="admin-a@example.se", display_name="Anna Admin", roles=("org_admin",), organisation=org_a,
                language="en")
    create_user(email="admin-b@example.se", display_name="Bo Admin", roles=("org_admin",), organisation=org_b,
                language="en")
    create_user(email="coord@example.se", display_name="Cia Coordinator", roles=("coordinator",), language="en")
    create_user(email="root@example.se", display_name="Root", roles=("admin",), language="en")
    create_user(email="learner@example.se", display_name="Lone Learner", organisation=org_a, language="en")
    learners_a = [create_user(email=f"a{i}@example.se", display_name=f"Employee A{i}", organisation=org_a)
                  for i in range(6)]
    learner_b = create_user(email="b0@example.se", display_name="Employee B0", organisation=org_b)
    now = dt.datetime.now(dt.UTC)
    with app.app_context():
        make_module("a1-energy", "Energikartläggning", "Energy mapping")
        make_module("a2-iso", "ISO 14001 och 50001", "ISO 14001 and 50001")
        make_path("resource-efficiency", ["a1-energy", "a2-iso"])
        for index, user_id in enumerate(learners_a[:5]):
            pass_module(user_id, "a1-energy", scaled=0.6 + index / 10, when=now - dt.timedelta(hours=1))
        pass_module(learners_a[0], "a2-iso", scaled=1.0, when=now - dt.timedelta(minutes=30))
        enrol(learners_a[5], "a1-energy")
        db.session.add(Assignment(organisation_id=org_a, user_id=learners_a[5], subject_kind="module",
                                  subject_iri="https://id.lms-service.org/modules/a2-iso",
                                  subject_title={"en": "ISO 14001 and 50001"},
                                  due_date=(now - dt.timedelta(days=3)).date()))
        db.session.commit()
        pass_module(learner_b, "a1-energy", scaled=0.9)
        db.session.remove()
    return World(org_a, org_b, learners_a, learner_b, learners_a[5])
