"""Ingest as real traffic does it: many requests at once that share learners and registrations, each on its
own thread, test client and database connection (a file SQLite database, or PostgreSQL with
TEST_DATABASE_URL, where the projections' row locks and the deferred runs really overlap).

What must hold (issue #15): every request answers 200 (no deadlock reaches a client), every statement is
stored exactly once, and every projection ends equal to a rebuild from the statements: progress, the
reporting rows, one module certificate per passed registration.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import random
import threading
import uuid

import pytest
import sqlalchemy as sa

from lms_service.certificates.models import Certificate
from lms_service.extensions import db
from lms_service.learning import projection as progress_projection
from lms_service.lrs import deferred
from lms_service.lrs.clients import create_client
from lms_service.lrs.ingest import IngestError, ingest_statements
from lms_service.lrs.models import ProjectionTask, Statement
from lms_service.reports import projection as report_projection
from tests.conftest import IS_POSTGRES
from xapi import builders

from .helpers import register, session_for

THREADS = 8


def _journey(user_id: int, slug: str, registration: str, rng: random.Random) -> list[dict]:
    """A learner's module as the player sends it: launched ... progressed ... completed, failed or passed."""
    session = session_for(user_id, slug, registration)
    start = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC) + dt.timedelta(minutes=rng.randrange(600))
    at = [start + dt.timedelta(seconds=s) for s in range(12)]
    out = [builders.launched(session, at[0]), builders.initialized(session, at[1])]
    for n in range(1, 5):
        out.append(builders.progressed(session, f"{session.module_iri}/lessons/l{n}",
                                       {"sv": f"Lektion {n} – el och återvinning", "en": f"Lesson {n}"},
                                       25 * n, at[1 + n]))
    out.append(builders.completed(session, dt.timedelta(minutes=9), at[6]))
    passed = rng.random() < 0.8
    out.append(builders.judged(session, passed, 0.9 if passed else 0.4, 9 if passed else 4, 10,
                               dt.timedelta(minutes=10), at[7]))
    out.append(builders.terminated(session, dt.timedelta(minutes=11), at[8]))
    return out


@pytest.fixture
def traffic(app, catalogue, create_user, create_org):
    """24 learners of three companies, 1-3 registrations each, their journeys cut into about 150 batches of
    several registrations and learners; a credential to post them with."""
    rng = random.Random(15)
    with app.app_context():
        orgs = [create_org(name=f"Leverantör {n} AB") for n in range(3)]
        journeys = []
        for n in range(24):
            user_id = create_user(email=f"learner{n}@example.se", organisation=orgs[n % 3])
            for slug in rng.sample(catalogue, rng.randint(1, 3)):
                registration = register(user_id, slug)
                # Many statements per registration: the module is taken again (a retry after a failure,
                # a review), which the LRS stores as new statements of the same registration.
                journeys.append([s for _ in range(3) for s in _journey(user_id, slug, registration, rng)])
        _client, secret = create_client("load", ["all"], None)
        key = _client.key
        db.session.remove()
    # Batches take 1-4 statements of 5-8 registrations in turn, so concurrent batches share registrations
    # (and learners, and companies) all the time.
    cursors = [0] * len(journeys)
    batches = []
    while any(c < len(j) for c, j in zip(cursors, journeys, strict=True)):
        batch = []
        for index in rng.sample(range(len(journeys)), min(len(journeys), rng.randint(5, 8))):
            take = rng.randint(1, 4)
            batch += journeys[index][cursors[index]:cursors[index] + take]
            cursors[index] += take
        if batch:
            batches.append(batch)
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    return batches, {"Authorization": f"Basic {token}", "X-Experience-API-Version": "2.0.0"}


def _post_all_at_once(app, batches: list[list[dict]], headers: dict) -> list[int]:
    """Post ``batches`` from THREADS threads (batch i by thread i % THREADS), released together."""
    barrier = threading.Barrier(THREADS)
    statuses: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(index: int) -> None:
        client = app.test_client()
        try:
            barrier.wait(timeout=30)
            for batch in batches[index::THREADS]:
                response = client.post("/xapi/statements", data=json.dumps(batch, ensure_ascii=False),
                                       headers={**headers, "Content-Type": "application/json"})
                with lock:
                    statuses.append(response.status_code)
        except BaseException as error:  # handed to the test thread
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    if errors:
        raise errors[0]
    return statuses


def _state() -> tuple:
    return (progress_projection.snapshot(), report_projection.snapshot(), sorted(db.session.execute(
        sa.select(Certificate.user_id, Certificate.subject_iri, Certificate.registration)).all()))


def test_concurrent_overlapping_batches_store_each_statement_once_and_project_as_a_rebuild(app, traffic):
    batches, headers = traffic
    # The same batch twice at once (a client's retry racing the original), beside everything else.
    batches = batches[:3] + [batches[3], batches[3]] + batches[4:]
    sent = {s["id"] for batch in batches for s in batch}
    statuses = _post_all_at_once(app, batches, headers)
    assert statuses == [200] * len(batches)
    with app.app_context():
        stored = db.session.execute(sa.select(Statement.statement_id)).scalars().all()
        assert len(stored) == len(set(stored))
        player_ids = {i for i in stored if i in sent}
        assert player_ids == sent
        # Whatever a run left for the next one (none should be left, but a crash could) is run, then the
        # state must be what the statements say.
        deferred.run_all_deferred()
        assert deferred.pending_count() == 0
        incremental = _state()
        passes = db.session.execute(sa.select(sa.func.count()).select_from(Statement).where(
            Statement.verb_id == "http://adlnet.gov/expapi/verbs/passed")).scalar_one()
        assert passes > 0
        module_certificates = [c for c in incremental[2] if c[2] is not None]
        assert len(module_certificates) == len({c[2] for c in module_certificates})
        report_projection.rebuild_reports()
        from lms_service.certificates.services import issue_missing

        assert issue_missing() == 0, "a certificate the passes earn was not issued"
        assert _state() == incremental


def test_a_deadlock_is_tried_again_and_never_reaches_the_client(app, traffic, monkeypatch):
    """The lock cycle itself cannot be made to order; a batch that meets one is done again from the start."""
    from psycopg import errors

    batches, headers = traffic
    from lms_service.lrs import ingest

    real = ingest._store
    failures = iter([errors.DeadlockDetected("deadlock detected"), errors.SerializationFailure("could not")])

    def sometimes_in_a_lock_cycle(*args, **kwargs):
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest, "_store", sometimes_in_a_lock_cycle)
    client = app.test_client()
    response = client.post("/xapi/statements", data=json.dumps(batches[0]),
                           headers={**headers, "Content-Type": "application/json"})
    assert response.status_code == 200, response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(Statement)).scalar_one() == len(batches[0])
        assert progress_projection.snapshot()  # the hooks ran, once


def test_a_batch_that_shares_its_transaction_is_not_retried_but_answered_503(app, traffic, monkeypatch):
    """The player's own rows are in the ingest transaction: a retry after the rollback would store the
    statements without them, so the caller gets a 503 and nothing is stored."""
    from psycopg import errors

    from lms_service.lrs import ingest
    from lms_service.lrs.clients import service_credential

    batches, _headers = traffic

    def always_deadlocked(*args, **kwargs):
        raise errors.DeadlockDetected("deadlock detected")

    monkeypatch.setattr(ingest, "_store", always_deadlocked)
    with app.app_context():
        db.session.add(ProjectionTask(kind="marker", registration=str(uuid.uuid4())))  # the caller's own row
        with pytest.raises(IngestError) as raised:
            ingest_statements(batches[0], version="2.0.0", authority=service_credential().authority())
        db.session.rollback()
        assert raised.value.status == 503
        assert db.session.execute(sa.select(sa.func.count()).select_from(Statement)).scalar_one() == 0
        assert db.session.execute(sa.select(sa.func.count()).select_from(ProjectionTask)).scalar_one() == 0


def test_tasks_left_by_a_crash_are_run_by_the_next_ingest_or_the_cli(app, traffic, monkeypatch, runner):
    batches, headers = traffic
    monkeypatch.setattr(deferred, "run_deferred", lambda *a, **k: 0)  # the process dies after the commit
    client = app.test_client()
    for batch in batches[:4]:
        assert client.post("/xapi/statements", data=json.dumps(batch),
                           headers={**headers, "Content-Type": "application/json"}).status_code == 200
    monkeypatch.undo()
    with app.app_context():
        assert deferred.pending_count() > 0
        before = report_projection.snapshot()
    result = runner.invoke(args=["lrs", "project"])
    assert result.exit_code == 0, result.output
    assert " pending" in result.output and "0 pending" in result.output
    with app.app_context():
        assert deferred.pending_count() == 0
        after = report_projection.snapshot()
        assert after != before
        report_projection.rebuild_reports()
        assert report_projection.snapshot() == after


@pytest.mark.skipif(not IS_POSTGRES, reason="another run holding the run lock needs PostgreSQL's advisory locks")
def test_while_a_run_is_under_way_an_ingest_answers_at_once_and_the_player_still_waits_for_its_own(app, traffic):
    batches, headers = traffic
    with app.app_context():
        holder = db.engine.connect()
        transaction = holder.begin()
        holder.execute(sa.text("SELECT pg_advisory_xact_lock(7352, 1)"))  # a long run elsewhere
        try:
            client = app.test_client()
            assert client.post("/xapi/statements", data=json.dumps(batches[0]),
                               headers={**headers, "Content-Type": "application/json"}).status_code == 200
            waiting = deferred.pending_count()
            assert waiting > 0  # left to the run under way
            from lms_service.lrs.clients import service_credential

            own = batches[1]
            ingest_statements(own, version="2.0.0", authority=service_credential().authority(),
                              wait_for_projections=True)
            first = {s["context"]["registration"] for s in batches[0]}
            new_here = {s["context"]["registration"] for s in own} - first
            rows = {r.registration for r in db.session.execute(sa.select(
                report_projection.ReportEnrolment.registration)).all()}
            assert new_here and new_here <= rows  # its own refreshed, in spite of the run lock
            left = {r.registration for r in db.session.execute(sa.select(ProjectionTask.registration)).all()}
            assert left <= first and deferred.pending_count() == waiting  # and nobody else's
        finally:
            transaction.rollback()
            holder.close()
        assert deferred.run_all_deferred() == waiting
