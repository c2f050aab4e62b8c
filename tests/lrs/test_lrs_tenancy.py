"""Tenancy: a credential reaches only what it may read, whatever it sends.

Company B (the victim) has a learner who passed a module through the native player (statements stored by the
service's credential narrowed to B, so B has progress and a reporting row), a statement of B's own LRS client,
and State, Activity Profile and Agent Profile documents. Every kind of credential that may not read B's
statements (each scope of company A; the blind scopes of a global credential; the service narrowed to A) tries
to read, void, overwrite and probe them: nothing is read, nothing changes, and every answer is the one it would
get for an id or document that does not exist.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from lrs_helpers import XAPIClient, make_statement, new_id

from lms_service.extensions import db
from lms_service.learning.models import LearnerProgress
from lms_service.lrs.clients import Credential, service_credential
from lms_service.lrs.ingest import IngestError, ingest_statements
from lms_service.lrs.models import Statement
from lms_service.reports import projection as report_projection
from lms_service.reports.models import ReportEnrolment
from tests.certificates.helpers import make_module, register, session_for
from xapi import builders

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
PASSED = "http://adlnet.gov/expapi/verbs/passed"
SECRET_ACTIVITY = "http://b.example.com/activities/secret-audit"
VICTIM_AGENT = {"objectType": "Agent", "mbox": "mailto:victim@b.example.com"}

# Company A's credentials: every scope, alone and in the usual combinations.
ORG_SCOPES = [
    "all",
    "all/read",
    "statements/write",
    "statements/read",
    "statements/read/mine",
    "statements/write statements/read/mine",
    "statements/write statements/read",
    "state",
    "profile",
    "define",
    "state profile define",
]
# Global credentials that still may not read company B's statements (a global statements/read, all/read or
# all credential reads everything by design).
GLOBAL_BLIND_SCOPES = [
    "statements/write",
    "statements/read/mine",
    "statements/write statements/read/mine",
    "state",
    "profile",
    "define",
]
ATTACKERS = [pytest.param(s, "org", id=f"org:{s}") for s in ORG_SCOPES] + [
    pytest.param(s, "global", id=f"global:{s}") for s in GLOBAL_BLIND_SCOPES
]
# Whoever may store statements (or documents) and read them back, whether everything or only their own.
WRITES = {"all", "statements/write"}
READS = {"all", "all/read", "statements/read", "statements/read/mine"}


@dataclass
class Victim:
    org_a: int
    org_b: int
    b: XAPIClient  # company B's own credential (all)
    registration: str
    learner_agent: dict
    module_iri: str
    native: list[dict]  # launched, completed, passed as the player sent them (stored by the service for B)
    external: dict  # a statement of B's own client, as sent
    documents: list[tuple[str, dict, bytes, str]]  # (resource, parameters, content, etag)

    @property
    def statement_ids(self) -> list[str]:
        return [s["id"] for s in self.native] + [self.external["id"]]


def as_b(org_b: int) -> Credential:
    """The credential the native player records B's learners with: the service's, narrowed to B."""
    base = service_credential()
    return Credential(base.client_id, base.name, base.scopes, org_b)


@pytest.fixture
def victim(app, client, create_org, create_user, make_credential) -> Victim:
    org_a = create_org("Angripare AB")
    org_b = create_org("Offer AB")
    learner = create_user(email="b-learner@example.se", display_name="Berit", organisation=org_b)
    with app.app_context():
        make_module("energy")
        registration = register(learner, "energy")
        session = session_for(learner, "energy", registration)
        now = dt.datetime.now(dt.UTC)
        native = [
            builders.launched(session, now - dt.timedelta(minutes=10)),
            builders.completed(session, dt.timedelta(minutes=9), now - dt.timedelta(seconds=1)),
            builders.judged(session, True, 0.9, 9, 10, dt.timedelta(minutes=9), now),
        ]
        for statement in native:
            statement.setdefault("id", new_id())
        ingest_statements(native, version="2.0.0", authority=service_credential().authority(), client=as_b(org_b))
        assert db.session.get(LearnerProgress, registration).status == "passed"
        assert report_projection.snapshot(), "the pass made a reporting row"
        learner_agent, module_iri = native[-1]["actor"], session.module_iri
        db.session.remove()

    b = XAPIClient(client, *make_credential("all", org=org_b, name="B's LMS"))
    external = make_statement(actor="victim@b.example.com", activity=SECRET_ACTIVITY, id=new_id())
    assert b.post_statements(external).status_code == 200
    documents = []
    for resource, params in document_places():
        content = json.dumps({"owner": "B", "resource": resource}).encode()
        response = b.put(resource, query=params, data=content, headers={
            "Content-Type": "application/json", "If-None-Match": "*"})
        assert response.status_code == 204, response.get_data(as_text=True)
        documents.append((resource, params, content, response.headers["ETag"]))
    return Victim(org_a, org_b, b, registration, learner_agent, module_iri, native, external, documents)


def document_places(document_id: str = "b-doc") -> list[tuple[str, dict]]:
    agent = json.dumps(VICTIM_AGENT)
    return [
        ("activities/state", {"activityId": SECRET_ACTIVITY, "agent": agent, "stateId": document_id}),
        ("activities/profile", {"activityId": SECRET_ACTIVITY, "profileId": document_id}),
        ("agents/profile", {"agent": agent, "profileId": document_id}),
    ]


def attacker_client(client, make_credential, victim: Victim, scopes: str, kind: str) -> XAPIClient:
    org = victim.org_a if kind == "org" else None
    return XAPIClient(client, *make_credential(scopes, org=org, name=f"attacker {kind} {scopes}"))


def world_state(app, victim: Victim) -> tuple:
    """What must not change: B's statements (body and voided flag), progress rows and reporting rows."""
    with app.app_context():
        statements = db.session.execute(
            sa.select(Statement.statement_id, Statement.voided, Statement.body)
            .where(Statement.statement_id.in_([i.lower() for i in victim.statement_ids]))
            .order_by(Statement.statement_id)
        ).all()
        statements = [(sid, voided, hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest())
                      for sid, voided, body in statements]
        progress = db.session.execute(
            sa.select(*LearnerProgress.__table__.columns).order_by(LearnerProgress.registration)).all()
        reports = report_projection.snapshot()
        db.session.remove()
    assert len(statements) == len(victim.statement_ids)
    return statements, [tuple(row) for row in progress], reports


def answer(response, *ids: str) -> tuple[int, str]:
    """Status and body with the given ids blanked, to compare an answer about B's data with one about nothing."""
    text = response.get_data(as_text=True)
    for value in ids:
        text = text.replace(value, "<id>").replace(value.lower(), "<id>")
    return response.status_code, text


def voiding(target: str) -> dict:
    statement = make_statement(actor="attacker@a.example.com", verb=VOIDED, id=new_id())
    statement["object"] = {"objectType": "StatementRef", "id": target}
    return statement


def visible_ids(xapi: XAPIClient, query: dict) -> set[str] | None:
    response = xapi.get("statements", query=query)
    if response.status_code == 403:
        return None
    assert response.status_code == 200, response.get_data(as_text=True)
    return {s["id"] for s in response.get_json()["statements"]}


@pytest.mark.parametrize(("scopes", "kind"), ATTACKERS)
def test_statements_of_another_tenant_are_not_read_voided_overwritten_or_revealed(
    app, client, make_credential, victim, scopes, kind
):
    attacker = attacker_client(client, make_credential, victim, scopes, kind)
    granted = set(scopes.split())
    before = world_state(app, victim)
    unknown = new_id()

    # Single lookups: exactly the answer for an id nobody stored.
    for name in ("statementId", "voidedStatementId"):
        expected = answer(attacker.get("statements", query={name: unknown}), unknown)
        for statement_id in victim.statement_ids:
            assert answer(attacker.get("statements", query={name: statement_id}), statement_id) == expected

    # Queries: nothing of B, by any filter that matches B's statements.
    filters = [{}, {"agent": json.dumps(victim.learner_agent)}, {"activity": victim.module_iri},
               {"verb": PASSED}, {"registration": victim.registration}, {"agent": json.dumps(VICTIM_AGENT)},
               {"activity": SECRET_ACTIVITY}, {"agent": json.dumps(VICTIM_AGENT), "related_agents": "true"}]
    for query in filters:
        seen = visible_ids(attacker, query)
        assert seen is None or not seen & set(victim.statement_ids), query

    # Voiding: answered as the voiding of a statement that does not exist, and voids nothing.
    expected = attacker.post_statements(voiding(unknown))
    for target in victim.statement_ids:
        response = attacker.post_statements(voiding(target))
        assert response.status_code == expected.status_code
        if expected.status_code != 200:
            assert answer(response) == answer(expected)
    assert world_state(app, victim) == before

    if granted & READS:
        # The stored voiding statements do not answer to the filters of the statements they name either.
        for query in filters[1:]:
            seen = visible_ids(attacker, query)
            assert seen is None or not seen, (query, seen)

    # PUT of B's ids: the 409 of any conflict (the same words as for the attacker's own statement), whether
    # the content differs or is a copy of B's; no write scope, the 403 of any PUT.
    own = make_statement(actor="attacker@a.example.com", id=new_id())
    own_stored = attacker.put("statements", query={"statementId": own["id"]}, json_body=own)
    changed = {**own, "verb": {"id": PASSED, "display": {"en-US": "passed"}}}
    own_conflict = attacker.put("statements", query={"statementId": own["id"]}, json_body=changed)
    if granted & WRITES:
        assert own_stored.status_code == 204 and own_conflict.status_code == 409
    else:
        assert own_stored.status_code == own_conflict.status_code == 403
    for original in victim.native + [victim.external]:
        for body in (original, {**original, "verb": {"id": PASSED, "display": {"en-US": "passed"}}}):
            response = attacker.put("statements", query={"statementId": original["id"]}, json_body=body)
            assert answer(response, original["id"]) == answer(own_conflict, own["id"])
    assert world_state(app, victim) == before

    if granted & WRITES:
        # Voiding (or referring to) an id before it exists does not reach a statement B stores under it later.
        later = new_id()
        reference = make_statement(actor="attacker@a.example.com", id=new_id())
        reference["object"] = {"objectType": "StatementRef", "id": later}
        assert attacker.post_statements([voiding(later), reference]).status_code == 200
        target = make_statement(actor="victim@b.example.com", activity=SECRET_ACTIVITY, id=later)
        assert victim.b.put("statements", query={"statementId": later}, json_body=target).status_code == 204
        assert victim.b.get("statements", query={"statementId": later}).status_code == 200
        if granted & READS:
            for query in ({"agent": json.dumps(VICTIM_AGENT)}, {"activity": SECRET_ACTIVITY}):
                assert not visible_ids(attacker, query), query


def test_the_service_credential_of_another_company_voids_and_overwrites_nothing(app, victim):
    before = world_state(app, victim)
    with app.app_context():
        as_a = as_b(victim.org_a)
        authority = service_credential().authority()
        for target in victim.statement_ids:
            ingest_statements([voiding(target)], version="2.0.0", authority=authority, client=as_a)
        for original in victim.native:
            with pytest.raises(IngestError) as error:
                ingest_statements([original], version="2.0.0", authority=authority, client=as_a)
            assert error.value.status == 409
        db.session.remove()
    assert world_state(app, victim) == before


@pytest.mark.parametrize(("scopes", "kind"), ATTACKERS)
def test_documents_of_another_tenant_are_not_read_changed_or_revealed(
    app, client, make_credential, victim, scopes, kind
):
    attacker = attacker_client(client, make_credential, victim, scopes, kind)
    for (resource, params, _content, etag), (_, nowhere) in zip(
        victim.documents, document_places("no-such-document"), strict=True
    ):
        id_name = "stateId" if "stateId" in params else "profileId"
        without_id = {k: v for k, v in params.items() if k != id_name}
        # Reading: the answer for a document nobody stored; the id list holds nothing of B's.
        assert answer(attacker.get(resource, query=params), "b-doc") == answer(
            attacker.get(resource, query=nowhere), "no-such-document")
        listed = attacker.get(resource, query=without_id)
        assert listed.status_code == 403 or "b-doc" not in listed.get_json()
        # Probing with B's ETag: the answer for a document that does not exist.
        for headers in ({"If-Match": etag}, {"If-None-Match": etag}, {"If-None-Match": "*"}):
            for method in ("PUT", "POST", "DELETE"):
                probe = {"Content-Type": "application/json", **headers}
                body = json.dumps({"owner": "attacker"})
                mine = attacker.request(method, resource, query=params, data=body, headers=probe)
                attacker.delete(resource, query=params)  # what the probe may have created is the attacker's
                assert mine.status_code in (204, 400, 403, 409, 412)
                assert attacker.request(method, resource, query=nowhere, data=body, headers=probe).status_code \
                    == mine.status_code
                attacker.delete(resource, query=nowhere)
        if resource == "activities/state":
            attacker.delete(resource, query=without_id)  # every State document of the key: the attacker's only
        attacker.put(resource, query=params, data=b'{"owner": "attacker"}',
                     headers={"Content-Type": "application/json"})
        attacker.post(resource, query=params, data=b'{"owner": "attacker"}',
                      headers={"Content-Type": "application/json"})

    for resource, params, content, etag in victim.documents:
        stored = victim.b.get(resource, query=params)
        assert stored.status_code == 200 and stored.data == content and stored.headers["ETag"] == etag


def test_an_lrs_credential_is_no_key_to_the_reports(client, make_credential, victim):
    attacker = XAPIClient(client, *make_credential("all", org=victim.org_a))
    response = client.get(f"/api/reports/companies/{victim.org_b}", headers={"Authorization": attacker.auth})
    assert response.status_code == 401


# -- what a credential may do still works ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["org", "global"])
def test_a_credential_that_reads_the_statements_voids_them_and_progress_follows(
    app, client, make_credential, victim, kind
):
    org = victim.org_b if kind == "org" else None
    voider = XAPIClient(client, *make_credential("all", org=org))
    passed = victim.native[-1]["id"]
    assert voider.post_statements(voiding(passed)).status_code == 200
    assert voider.get("statements", query={"voidedStatementId": passed}).status_code == 200
    assert victim.b.get("statements", query={"statementId": passed}).status_code == 404
    with app.app_context():
        # The pass is gone from the learner's progress and the company's report; the completion remains.
        assert db.session.get(LearnerProgress, victim.registration).status == "completed"
        assert db.session.get(ReportEnrolment, victim.registration).status == "completed"


def test_read_mine_and_write_only_credentials_void_their_own_statements_only(app, client, make_credential, victim):
    for scopes in ("statements/write statements/read/mine", "statements/write"):
        own_only = XAPIClient(client, *make_credential(scopes, org=victim.org_b))
        mine = make_statement(actor="victim@b.example.com", id=new_id())
        assert own_only.post_statements(mine).status_code == 200
        # A re-send of its own statement is accepted as such (it may refer to what it stored).
        assert own_only.put("statements", query={"statementId": mine["id"]}, json_body=mine).status_code == 204
        assert own_only.post_statements([voiding(mine["id"]), voiding(victim.external["id"])]).status_code == 200
        assert victim.b.get("statements", query={"voidedStatementId": mine["id"]}).status_code == 200
        # The same company's other client's statement, and the player's, stay as they are.
        assert victim.b.get("statements", query={"statementId": victim.external["id"]}).status_code == 200
        assert own_only.post_statements(voiding(victim.native[-1]["id"])).status_code == 200
        assert victim.b.get("statements", query={"statementId": victim.native[-1]["id"]}).status_code == 200


def test_voiding_before_the_target_still_works_within_a_tenant(app, client, make_credential, victim):
    later = str(uuid.uuid4())
    # B's own LMS voids ahead of a statement the player then records for B.
    assert victim.b.post_statements(voiding(later)).status_code == 200
    with app.app_context():
        statement = make_statement(actor="victim@b.example.com", id=later)
        ingest_statements([statement], version="2.0.0", authority=service_credential().authority(),
                          client=as_b(victim.org_b))
        db.session.remove()
    assert victim.b.get("statements", query={"voidedStatementId": later}).status_code == 200
    assert victim.b.get("statements", query={"statementId": later}).status_code == 404


def test_a_global_credential_has_documents_of_its_own_apart_from_every_company(
    client, make_credential, victim
):
    everything = XAPIClient(client, *make_credential("all"))
    for resource, params, content, _etag in victim.documents:
        # Documents belong to the credential's organisation; a global credential works in the global space.
        assert everything.get(resource, query=params).status_code == 404
        global_copy = b'{"owner": "global"}'
        assert everything.put(resource, query=params, data=global_copy, headers={
            "Content-Type": "application/json", "If-None-Match": "*"}).status_code == 204
        assert everything.get(resource, query=params).data == global_copy
        assert victim.b.get(resource, query=params).data == content
