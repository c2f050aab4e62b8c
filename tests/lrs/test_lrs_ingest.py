"""The one ingest path: hooks inside the transaction, all-or-nothing batches, server-side use."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from lrs_helpers import make_statement, new_id

from lms_service.extensions import db
from lms_service.lrs.clients import service_credential
from lms_service.lrs.ingest import (
    IngestError,
    ingest_statements,
    register_ingest_hook,
    unregister_ingest_hook,
)
from lms_service.lrs.models import Statement, StatementAgent


@pytest.fixture
def hook():
    registered = []

    def add(fn):
        register_ingest_hook(fn)
        registered.append(fn)
        return fn

    yield add
    for fn in registered:
        unregister_ingest_hook(fn)


def count(model) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def test_hooks_see_stored_statements_inside_the_transaction(app, hook):
    seen = []

    @hook
    def project(statements):
        # The rows are visible to the hook's own queries: same session, before the commit.
        seen.append((len(statements), count(Statement), statements[0]["stored"]))

    with app.app_context():
        credential = service_credential()
        ids = ingest_statements(
            [make_statement(), make_statement()],
            version="2.0.0",
            authority=credential.authority(),
            client=credential,
        )
        assert len(ids) == 2
    assert seen[0][0] == 2 and seen[0][1] == 2 and seen[0][2]


def test_a_failing_hook_stores_nothing(app, hook):
    @hook
    def broken(statements):
        raise RuntimeError("projection failed")

    with app.app_context():
        credential = service_credential()
        with pytest.raises(RuntimeError):
            ingest_statements([make_statement()], version="2.0.0", authority=credential.authority())
        assert count(Statement) == 0
        assert count(StatementAgent) == 0


def test_resent_statements_are_not_passed_to_hooks_again(app, hook):
    calls = []
    hook(lambda statements: calls.append([s["id"] for s in statements]))
    statement = make_statement(id=new_id())
    with app.app_context():
        authority = service_credential().authority()
        ingest_statements([statement], version="2.0.0", authority=authority)
        ingest_statements([statement], version="2.0.0", authority=authority)
    assert calls == [[statement["id"]]]


def test_invalid_statement_raises_ingest_error_with_path(app):
    bad = make_statement()
    del bad["verb"]
    with app.app_context():
        with pytest.raises(IngestError) as error:
            ingest_statements(
                [make_statement(), bad], version="1.0.3", authority=service_credential().authority()
            )
        assert error.value.status == 400
        assert error.value.path.startswith("[1]")
        assert count(Statement) == 0


def test_service_authority_is_the_service_account(app):
    with app.app_context():
        authority = service_credential().authority()
        ingest_statements([make_statement()], version="2.0.0", authority=authority)
        body = db.session.execute(sa.select(Statement.body)).scalar_one()
    assert body["authority"]["account"] == {"homePage": "http://localhost", "name": "service"}


def test_an_id_stored_concurrently_is_a_409_not_a_500(app, monkeypatch):
    """Simulate another request storing the same id between the duplicate check and the insert."""
    from lms_service.lrs import ingest

    statement = make_statement(id=new_id())
    with app.app_context():
        authority = service_credential().authority()
        ingest_statements([statement], version="2.0.0", authority=authority)
        # The duplicate check now sees nothing, as if the other transaction had not committed yet.
        blind = ingest._FIND_IDS_AND_REFERRERS.where(sa.false())
        monkeypatch.setattr(ingest, "_FIND_IDS_AND_REFERRERS", blind)
        with pytest.raises(IngestError) as error:
            ingest_statements([statement], version="2.0.0", authority=authority)
        assert error.value.status == 409
        assert count(Statement) == 1


def test_staged_statements_are_stored_with_the_callers_commit(app, hook):
    from lms_service.lrs.ingest import stage_statements

    seen = []
    hook(lambda stored: seen.extend(s["id"] for s in stored))
    with app.app_context():
        statement = make_statement()
        ids = stage_statements([statement])
        assert seen == ids  # hooks ran inside the caller's transaction
        db.session.commit()
        stored = db.session.execute(sa.select(Statement.statement_id)).scalars().all()
        assert stored == [ids[0].lower()]
        stored_body = db.session.execute(sa.select(Statement.body)).scalar_one()
        assert stored_body["authority"] == service_credential().authority()


def test_staged_statements_vanish_with_the_callers_rollback(app):
    from lms_service.lrs.ingest import stage_statements

    with app.app_context():
        stage_statements([make_statement(), make_statement()])
        db.session.rollback()
        assert count(Statement) == 0 and count(StatementAgent) == 0


def test_staging_an_invalid_statement_raises_and_stores_nothing(app):
    from lms_service.lrs.ingest import stage_statements

    with app.app_context():
        broken = make_statement()
        broken["verb"] = {"id": "not an iri"}
        with pytest.raises(IngestError) as info:
            stage_statements([make_statement(), broken])
        assert info.value.status == 400 and info.value.path.startswith("[1].verb")
        db.session.rollback()
        assert count(Statement) == 0
