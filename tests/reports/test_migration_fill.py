"""The migration that adds the reporting table fills it from existing data exactly as the projection would."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from lms_service.extensions import db
from lms_service.learning.models import LearnerProgress
from lms_service.orgs.services import create_organisation
from lms_service.reports import projection
from lms_service.reports.models import ReportEnrolment
from tests.certificates.helpers import make_module, register

BEFORE_REPORTS = "6ff934967e5d"


@pytest.fixture
def empty_database(database, tmp_path):
    url, drop = database.new_url("fill", tmp_path)
    yield url
    drop()


def test_migration_fill_equals_the_projection(make_app, empty_database):
    app = make_app(SQLALCHEMY_DATABASE_URI=empty_database)
    with app.app_context():
        upgrade(revision=BEFORE_REPORTS)
        org = create_organisation("Komponent AB", "556677-8899", "01", "vehicle_supplier")
        from lms_service.accounts.services import create_user

        users = [create_user(f"u{i}@example.se", f"U {i}", "a long enough password", "sv",
                             organisation_id=org.id if i else None).id for i in range(3)]
        make_module("a1-energy")
        stamps = ("2026-01-31T23:59:59.500000Z", "2026-02-01T00:20:00.000000Z")
        for index, user_id in enumerate(users):
            registration = register(user_id, "a1-energy")
            db.session.add(LearnerProgress(
                registration=registration, actor_ifi=f"account:x|{index}", module_iri="x",
                status=("passed", "in_progress", "completed")[index], progress=100, completed=index != 1,
                score_scaled=0.9 if index == 0 else None, attempts=1, first_at=stamps[0], last_at=stamps[1],
                completed_at=stamps[1] if index != 1 else None, passed_at=stamps[1] if index == 0 else None))
        # An enrolment a moment before midnight UTC at the turn of a month.
        db.session.execute(sa.text("UPDATE learning_registrations SET created_at = :at"),
                           {"at": dt.datetime(2026, 1, 31, 23, 59, 59, tzinfo=dt.UTC)})
        db.session.commit()

        upgrade()
        filled = projection.snapshot()
        assert len(filled) == 3
        db.session.execute(sa.delete(ReportEnrolment))
        projection.refresh_enrolments()
        db.session.commit()
        assert projection.snapshot() == filled
        rows = db.session.execute(sa.select(ReportEnrolment)).scalars().all()
        assert {r.enrolled_month for r in rows} == {"2026-01"}
        assert sorted(round(r.minutes_to_complete or 0, 2) for r in rows) == [0.0, 20.01, 20.01]
        db.session.remove()
