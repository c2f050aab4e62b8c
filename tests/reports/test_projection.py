"""The reporting table: kept current by the ingest path, and `flask reports rebuild` gives the same rows
and the same figures from the statements alone."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

from lms_service.extensions import db
from lms_service.reports import projection, services
from lms_service.reports.models import ReportEnrolment
from tests.certificates.helpers import ingest, pass_module, session_for
from xapi import builders


def figures(org_ids: list[int]) -> tuple:
    """Every figure the dashboards show, as plain values, to compare two states of the database."""
    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    out = []
    for org_id in org_ids:
        modules, paths = services.company_subject_stats(org_id, services.Filters())
        out.append([(s.subject.key, s.assigned, s.enrolled, s.in_progress, s.completed, s.passed, s.average_score,
                     s.median_minutes) for s in modules + paths])
        out.append([(r.user_id, r.subject.key, r.status, r.overdue, r.certificate_status)
                    for r in services.employee_rows(org_id, services.Filters(), now)])
    out.append({d: [(r.key, r.companies, r.learners, r.completions, r.certificates) for r in rows]
                for d, rows in services.programme_figures(services.Filters(), "en").items()})
    out.append([(r.key, r.learners, r.completions, r.certificates) for r in services.company_figures(services.Filters())])
    return tuple(map(repr, out))


def test_the_ingest_hook_writes_a_row_per_registration(world, ctx):
    rows = db.session.execute(sa.select(ReportEnrolment)).scalars().all()
    assert len(rows) == 8  # five passes of a1 and one of a2 in A, one enrolment in A, one pass in B
    passed = [r for r in rows if r.user_id == world.learners_a[0] and r.status == "passed"]
    assert len(passed) == 2 and all(r.score_scaled is not None for r in passed)
    # Launched ten minutes before the pass, completed one second before it.
    assert all(r.minutes_to_complete == pytest.approx(10 - 1 / 60, abs=0.01) for r in passed)
    enrolled = [r for r in rows if r.user_id == world.overdue_user]
    assert [(r.status, r.completed_at, r.minutes_to_complete) for r in enrolled] == [("not_started", None, None)]
    assert all(len(r.enrolled_month) == 7 for r in rows)


def test_a_later_statement_updates_the_row(world, ctx):
    registration = db.session.execute(sa.select(ReportEnrolment.registration).where(
        ReportEnrolment.user_id == world.overdue_user)).scalar_one()
    pass_module(world.overdue_user, "a1-energy", registration=registration, scaled=0.5, passed=False)
    db.session.expire_all()
    row = db.session.get(ReportEnrolment, registration)
    assert (row.status, row.score_scaled) == ("failed", 0.5)


def test_voiding_the_only_statements_removes_the_row(world, ctx):
    registration = db.session.execute(sa.select(ReportEnrolment.registration).where(
        ReportEnrolment.user_id == world.overdue_user)).scalar_one()
    from lms_service.lrs.models import Statement

    ids = db.session.execute(sa.select(Statement.statement_id).where(
        Statement.registration == registration)).scalars().all()
    assert ids
    session = session_for(world.overdue_user, "a1-energy", registration)
    voiding = [{"id": str(uuid.uuid4()), "actor": builders.launched(session, dt.datetime.now(dt.UTC))["actor"],
                "verb": {"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}},
                "object": {"objectType": "StatementRef", "id": statement_id}} for statement_id in ids]
    ingest(voiding)
    db.session.expire_all()
    assert db.session.get(ReportEnrolment, registration) is None
    before = projection.snapshot()
    projection.rebuild_reports()
    assert projection.snapshot() == before


def test_rebuild_from_the_statements_gives_identical_rows_and_figures(world, ctx, runner):
    orgs = [world.org_a, world.org_b]
    rows_before, figures_before = projection.snapshot(), figures(orgs)
    # Wreck both projections: the rebuild must need nothing but the statements.
    db.session.execute(sa.delete(ReportEnrolment))
    db.session.execute(sa.text("DELETE FROM learning_progress"))
    db.session.commit()
    assert figures(orgs) != figures_before
    result = runner.invoke(args=["reports", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "8" in result.output
    db.session.expire_all()
    assert projection.snapshot() == rows_before
    assert figures(orgs) == figures_before


def test_rebuild_that_fails_changes_nothing(world, ctx, monkeypatch):
    before = projection.snapshot()

    def broken(_registrations=None):
        raise RuntimeError("disk full")

    monkeypatch.setattr(projection, "refresh_enrolments", broken)
    with pytest.raises(RuntimeError):
        projection.rebuild_reports()
    assert projection.snapshot() == before


def test_a_failing_refresh_loses_no_statement_and_a_rebuild_puts_the_rows_right(world, ctx, monkeypatch, caplog):
    """The reporting rows are refreshed after the ingest commits (lrs/deferred.py): when that fails, the
    learner's statements and progress are stored all the same, the failure is logged, and the documented
    rebuild gives the rows the refresh would have written."""
    from lms_service.learning.models import LearnerProgress
    from lms_service.lrs.models import ProjectionTask, Statement

    count = db.session.execute(sa.select(sa.func.count()).select_from(Statement)).scalar_one()
    real = projection.refresh_enrolments

    def broken(_registrations=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(projection, "refresh_enrolments", broken)
    pass_module(world.overdue_user, "a2-iso")
    assert db.session.execute(sa.select(sa.func.count()).select_from(Statement)).scalar_one() > count
    registration = db.session.execute(sa.select(LearnerProgress.registration).where(
        LearnerProgress.status == "passed").order_by(LearnerProgress.last_at.desc()).limit(1)).scalar_one()
    stale = db.session.get(ReportEnrolment, registration)
    assert stale is None or stale.status != "passed"
    assert "deferred reports projection of 1 task(s) failed" in caplog.text
    # The failed task is not retried on every later run (it would fail again): the rebuild is the repair.
    assert db.session.execute(sa.select(sa.func.count()).select_from(ProjectionTask)).scalar_one() == 0
    monkeypatch.setattr(projection, "refresh_enrolments", real)
    projection.rebuild_reports()
    assert db.session.get(ReportEnrolment, registration).status == "passed"


def test_a_learner_who_changes_company_takes_their_rows_along(world, ctx):
    from lms_service.accounts.models import User

    user = db.session.get(User, world.learners_a[0])
    user.organisation_id = world.org_b
    db.session.commit()
    rows = db.session.execute(sa.select(ReportEnrolment.organisation_id).where(
        ReportEnrolment.user_id == world.learners_a[0])).scalars().all()
    assert rows and set(rows) == {world.org_b}
    modules, _paths = services.company_subject_stats(world.org_b, services.Filters())
    assert {m.subject.key: m.enrolled for m in modules}["a1-energy"] == 2
    before = projection.snapshot()
    projection.rebuild_reports()
    assert projection.snapshot() == before
    # Leaving every company takes the rows out of every company's figures.
    user = db.session.get(User, world.learners_a[0])
    user.organisation_id = None
    db.session.commit()
    assert db.session.execute(sa.select(ReportEnrolment.organisation_id).where(
        ReportEnrolment.user_id == world.learners_a[0])).scalars().all() == [None, None]


def test_the_reporting_hook_runs_after_the_progress_hook(app):
    from lms_service.learning.projection import project_statements
    from lms_service.lrs.ingest import _hooks

    assert _hooks.index(project_statements) < _hooks.index(projection.project_report)


def test_only_a_changed_summary_costs_a_reporting_refresh(world, ctx, monkeypatch):
    """A lesson or an answer in a registration already under way changes its progress percentage, not its
    reporting row: no deferred task. A first statement, an earlier moment, a pass, a better result: one."""
    from lms_service.lrs import deferred
    from lms_service.lrs.models import ProjectionTask
    from tests.certificates.helpers import register

    def tasks() -> list[tuple]:
        return db.session.execute(sa.select(ProjectionTask.kind, ProjectionTask.registration)
                                  .order_by(ProjectionTask.id)).all()

    monkeypatch.setattr(deferred, "run_deferred", lambda *a, **k: 0)  # keep the tasks to look at them
    user, slug = world.learners_a[5], "a2-iso"
    registration = register(user, slug)
    session = session_for(user, slug, registration)
    start = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    ingest([builders.launched(session, start), builders.initialized(session, start)])
    assert tasks() == [("reports", registration)]  # a new registration
    db.session.execute(sa.delete(ProjectionTask))
    db.session.commit()
    ingest([builders.progressed(session, f"{session.module_iri}/lessons/l1", {"sv": "Lektion – ett"}, 50,
                                start + dt.timedelta(minutes=5))])
    assert tasks() == []
    ingest([builders.progressed(session, f"{session.module_iri}/lessons/l0", {"sv": "Lektion – noll"}, 10,
                                start - dt.timedelta(minutes=5))])  # sent late: an earlier start
    assert tasks() == [("reports", registration)]
    db.session.execute(sa.delete(ProjectionTask))
    db.session.commit()
    ingest([builders.judged(session, True, 0.9, 9, 10, dt.timedelta(minutes=9), start + dt.timedelta(minutes=9))])
    assert [kind for kind, _ in tasks()] == ["certificates", "reports"]
    monkeypatch.undo()
    deferred.run_all_deferred()
    after = projection.snapshot()
    projection.rebuild_reports()
    assert projection.snapshot() == after
    assert db.session.get(ReportEnrolment, registration).status == "passed"
