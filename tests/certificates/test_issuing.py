"""Issuing from the progress projection: once per pass, paths by moveOn rule, renewal, expiry, revocation."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from lms_service.accounts.models import User
from lms_service.certificates import services
from lms_service.certificates.models import Certificate
from lms_service.errors import UserError
from lms_service.extensions import db
from lms_service.learning import projection
from lms_service.lrs.models import Statement
from xapi.vocabulary import Extension, Verb

from .conftest import certificate_statements
from .helpers import BASE_IRI, make_module, make_path, pass_module, register

UTC = dt.UTC


@pytest.fixture(autouse=True)
def _context(ctx):
    """Service-level tests: one app context for the whole test (no test client requests here)."""


def all_certificates() -> list[Certificate]:
    return list(db.session.execute(sa.select(Certificate).order_by(Certificate.id)).scalars())


def test_passing_a_module_issues_one_certificate_with_what_it_records(catalogue, create_user):
    user_id = create_user(email="asa@example.se", display_name="Åsa Öberg-Ärlig", language="sv")
    registration = pass_module(user_id, "a1-energy", scaled=0.85)

    [cert] = all_certificates()
    assert cert.user_id == user_id
    assert cert.subject_kind == "module" and cert.subject_iri == BASE_IRI + "a1-energy"
    assert cert.subject_title == {"sv": "Energikartläggning", "en": "Energy mapping"}
    assert cert.subject_version == "1.2.0"
    assert cert.score_percent == 85
    assert cert.learner_name == "Åsa Öberg-Ärlig"
    assert cert.registration == registration
    assert cert.issuer_name == "Green transition modules"
    assert cert.issuer_id == "http://localhost/certificates/issuer"
    assert len(cert.public_id) == 32
    # The default validity is three years (1095 days) from the issue.
    assert (cert.valid_until - cert.earned_at).days == 1095
    assert not cert.revoked

    [statement] = certificate_statements()
    assert statement["verb"]["id"] == Verb.CERTIFICATE_ISSUED
    assert statement["object"]["id"] == f"http://localhost/verify/{cert.public_id}"
    assert statement["context"]["extensions"][Extension.CERTIFICATE_ID] == cert.public_id
    assert statement["context"]["contextActivities"]["other"][0]["id"] == BASE_IRI + "a1-energy"
    user = db.session.get(User, user_id)
    assert statement["actor"]["account"]["name"] == user.xapi_account_name


def test_failing_or_only_completing_issues_nothing(catalogue, create_user):
    user_id = create_user()
    pass_module(user_id, "a1-energy", passed=False, scaled=0.3)
    assert all_certificates() == []


def test_the_same_pass_stored_again_or_rebuilt_issues_nothing_twice(catalogue, create_user):
    from xapi import builders

    from .helpers import ingest, session_for

    user_id = create_user()
    registration = register(user_id, "a1-energy")
    session = session_for(user_id, "a1-energy", registration)
    when = dt.datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    passed = builders.judged(session, True, 0.9, 9, 10, dt.timedelta(minutes=5), when)
    ingest([passed])
    ingest([passed])  # an idempotent re-send: the LRS stores nothing and runs no hook
    [first] = all_certificates()

    # A rebuild of the projection, then issuing whatever it earns: the pass already has its certificate.
    projection.rebuild_progress()
    assert services.issue_missing() == 0
    # Issuing directly for the same basis finds the existing certificate.
    user = db.session.get(User, user_id)
    outcome = services.issue_for_progress(
        user, subject_kind="module", subject_iri=first.subject_iri, title=first.subject_title,
        version="1.2.0", basis=first.basis, earned_at=first.earned_at)
    assert not outcome.created and outcome.certificate.id == first.id
    assert [c.id for c in all_certificates()] == [first.id]
    assert len(certificate_statements()) == 1


def test_issue_missing_issues_for_passes_stored_without_the_hook(catalogue, create_user, monkeypatch):
    from lms_service.lrs import ingest as ingest_module

    user_id = create_user()
    monkeypatch.setattr(ingest_module, "_hooks", [h for h in ingest_module._hooks
                                                  if h is not services.issue_from_statements])
    pass_module(user_id, "a1-energy")
    assert all_certificates() == []
    monkeypatch.undo()
    assert services.issue_missing() == 1
    assert services.issue_missing() == 0
    assert len(all_certificates()) == 1


def test_statements_of_another_actor_in_a_learners_registration_earn_nothing(catalogue, create_user):
    from xapi import builders

    from .helpers import ingest, session_for

    owner = create_user(email="owner@example.se")
    other = create_user(email="other@example.se")
    registration = register(owner, "a1-energy")
    # The other learner's account, posting into the owner's registration.
    session = session_for(other, "a1-energy", registration)
    ingest([builders.judged(session, True, 1.0, 10, 10, dt.timedelta(minutes=1))])
    assert all_certificates() == []


@pytest.mark.parametrize("move_on, results, complete", [
    ("Passed", ["pass", "pass", "pass"], True),
    ("Completed", ["complete", "complete", "complete"], True),
    ("CompletedAndPassed", ["both", "both", "both"], True),
    ("CompletedOrPassed", ["pass", "complete", "both"], True),
    ("CompletedAndPassed", ["both", "both", "pass"], False),
    ("Passed", ["complete", "complete", "complete"], False),
    ("Completed", ["complete", "complete", "pass"], False),
])
def test_a_path_is_certified_when_every_module_meets_its_rule(ctx, create_user, move_on, results, complete):
    from xapi import builders

    from .helpers import ingest, session_for

    slugs = ["m1", "m2", "m3"]
    for slug in slugs:
        make_module(slug)
    make_path("p", slugs, move_on=move_on)
    user_id = create_user()
    for slug, result in zip(slugs, results, strict=True):
        registration = register(user_id, slug)
        session = session_for(user_id, slug, registration)
        statements = []
        if result in ("complete", "both"):
            statements.append(builders.completed(session, dt.timedelta(minutes=3)))
        if result in ("pass", "both"):
            statements.append(builders.judged(session, True, 0.9, 9, 10, dt.timedelta(minutes=3)))
        ingest(statements)
    paths = [c for c in all_certificates() if c.subject_kind == "path"]
    if complete:
        [path] = paths
        assert path.subject_iri == "https://id.lms-service.org/paths/p"
        assert path.subject_title["en"] == "Resource-efficient production"
        assert path.subject_version is None
    else:
        assert paths == [], f"{move_on} must not be met by {results}"


@pytest.mark.parametrize("rules, results, complete", [
    # m3 is optional: the path is complete without it.
    ({"m3": {"required": False}}, ["pass", "pass", None], True),
    # m2 only needs to be completed (its own rule), the others passed (the path's rule).
    ({"m2": {"move_on": "Completed"}}, ["pass", "complete", "pass"], True),
    ({"m2": {"move_on": "Completed"}}, ["pass", "pass", "pass"], False),
    # NotApplicable is met without any result.
    ({"m3": {"move_on": "NotApplicable"}}, ["pass", "pass", None], True),
])
def test_modules_of_a_path_can_have_their_own_rule_or_be_optional(ctx, create_user, rules, results, complete):
    from xapi import builders

    from .helpers import ingest, session_for

    slugs = ["m1", "m2", "m3"]
    for slug in slugs:
        make_module(slug)
    make_path("p", slugs, move_on="Passed", rules=rules)
    user_id = create_user()
    for slug, result in zip(slugs, results, strict=True):
        if result is None:
            continue
        session = session_for(user_id, slug, register(user_id, slug))
        if result == "complete":
            ingest([builders.completed(session, dt.timedelta(minutes=3))])
        else:
            ingest([builders.judged(session, True, 0.9, 9, 10, dt.timedelta(minutes=3))])
    paths = [c for c in all_certificates() if c.subject_kind == "path"]
    assert len(paths) == (1 if complete else 0), (rules, results)


def test_a_path_is_issued_once_when_its_last_module_is_passed(catalogue, create_user):
    user_id = create_user()
    pass_module(user_id, "a1-energy")
    pass_module(user_id, "a2-iso")
    assert [c.subject_kind for c in all_certificates()] == ["module", "module"]
    pass_module(user_id, "a3-circular")
    kinds = [c.subject_kind for c in all_certificates()]
    assert kinds == ["module", "module", "module", "path"]
    projection.rebuild_progress()
    assert services.issue_missing() == 0
    verbs = [s["verb"]["id"] for s in certificate_statements()]
    assert verbs == [Verb.CERTIFICATE_ISSUED] * 4


def _direct_issue(user_id: int, basis: str, earned_at: dt.datetime, subject_iri: str = BASE_IRI + "a1-energy"):
    user = db.session.get(User, user_id)
    return services.issue_for_progress(user, subject_kind="module", subject_iri=subject_iri,
                                       title={"sv": "Energikartläggning", "en": "Energy mapping"},
                                       version="1.2.0", basis=basis, earned_at=earned_at, score_scaled=0.9)


def test_renewal_inside_the_window_links_the_new_certificate(catalogue, create_user):
    services.set_policy(BASE_IRI + "a1-energy", validity_days=365, renewal_window_days=30)
    user_id = create_user()
    start = dt.datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
    first = _direct_issue(user_id, "r1@1", start).certificate
    assert first.valid_until.replace(tzinfo=UTC) == start + dt.timedelta(days=365)

    # Passing again well before the window: still certified, nothing new.
    early = _direct_issue(user_id, "r1@2", start + dt.timedelta(days=200))
    assert not early.created and early.certificate.id == first.id

    # Inside the window (20 days before expiry): a renewal that continues from the old end date.
    renewal = _direct_issue(user_id, "r1@3", start + dt.timedelta(days=345))
    assert renewal.created and renewal.renewed
    new = renewal.certificate
    assert new.renewal_of_id == first.id
    assert new.valid_until.replace(tzinfo=UTC) == start + dt.timedelta(days=365 * 2)
    assert services.renewed_by(first).id == new.id
    verbs = [s["verb"]["id"] for s in certificate_statements()]
    assert verbs == [Verb.CERTIFICATE_ISSUED, Verb.CERTIFICATE_RENEWED]


def test_after_expiry_or_revocation_a_pass_issues_afresh(catalogue, create_user):
    services.set_policy(BASE_IRI + "a1-energy", validity_days=100, renewal_window_days=10)
    user_id = create_user()
    admin_id = create_user(email="admin@example.se", roles=("admin",))
    start = dt.datetime(2025, 1, 1, tzinfo=UTC)
    first = _direct_issue(user_id, "b@1", start).certificate
    late = _direct_issue(user_id, "b@2", start + dt.timedelta(days=150))
    assert late.created and not late.renewed and late.certificate.renewal_of_id is None

    services.revoke_certificate(late.certificate, db.session.get(User, admin_id), "Issued in error")
    again = _direct_issue(user_id, "b@3", start + dt.timedelta(days=151))
    assert again.created and not again.renewed
    assert len(all_certificates()) == 3 and first.id != again.certificate.id


def test_revocation_records_who_why_and_a_statement_and_cannot_repeat(catalogue, create_user):
    user_id = create_user()
    admin_id = create_user(email="admin@example.se", roles=("admin",))
    pass_module(user_id, "a1-energy")
    [cert] = all_certificates()
    admin = db.session.get(User, admin_id)
    with pytest.raises(UserError):
        services.revoke_certificate(cert, admin, "   ")
    with pytest.raises(UserError):
        services.revoke_certificate(cert, admin, "x" * 501)
    assert not db.session.get(Certificate, cert.id).revoked

    services.revoke_certificate(cert, admin, "Answers were shared")
    cert = db.session.get(Certificate, cert.id)
    assert cert.revoked and cert.revoked_by_id == admin_id and cert.revocation_reason == "Answers were shared"
    with pytest.raises(UserError) as error:
        services.revoke_certificate(cert, admin, "again")
    assert error.value.status == 409
    assert db.session.get(Certificate, cert.id).revocation_reason == "Answers were shared"
    statements = certificate_statements()
    assert [s["verb"]["id"] for s in statements] == [Verb.CERTIFICATE_ISSUED, Verb.CERTIFICATE_REVOKED]
    assert statements[1]["context"]["extensions"][Extension.REASON] == "Answers were shared"


def test_policies_are_validated_and_fall_back_to_the_configured_default(catalogue):
    iri = BASE_IRI + "a2-iso"
    assert services.policy_for(iri) == services.Policy(1095, 90)
    with pytest.raises(UserError):
        services.set_policy("https://example.org/unknown", 10, 1)
    with pytest.raises(UserError):
        services.set_policy(iri, -1, 0)
    with pytest.raises(UserError):
        services.set_policy(iri, 30, 40)
    assert services.policy_for(iri) == services.Policy(1095, 90)
    services.set_policy(iri, 0, 0)
    assert services.policy_for(iri) == services.Policy(0, 0)


def test_a_policy_of_zero_days_issues_certificates_that_never_expire(catalogue, create_user):
    services.set_policy(BASE_IRI + "a1-energy", 0, 0)
    user_id = create_user()
    pass_module(user_id, "a1-energy")
    [cert] = all_certificates()
    assert cert.valid_until is None
    assert cert.status(dt.datetime(2100, 1, 1, tzinfo=UTC)) == "valid"


def test_statements_are_stored_in_the_lrs(catalogue, create_user):
    user_id = create_user()
    pass_module(user_id, "a1-energy")
    certificate_statements()
    verbs = list(db.session.execute(sa.select(Statement.verb_id).order_by(Statement.pk)).scalars())
    assert verbs[-1] == Verb.CERTIFICATE_ISSUED


def test_a_failure_while_issuing_never_loses_the_learners_pass(catalogue, create_user, monkeypatch, caplog):
    from lms_service.learning.models import LearnerProgress

    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(services, "_issue_module", broken)
    user_id = create_user()
    registration = pass_module(user_id, "a1-energy")
    assert db.session.get(LearnerProgress, registration).status == "passed"
    assert all_certificates() == []
    assert "deferred certificates projection of 2 task(s) failed" in caplog.text
    monkeypatch.undo()
    assert services.issue_missing() == 1


def test_passing_again_in_the_window_renews_the_module_and_its_path(catalogue, create_user):
    for iri in (BASE_IRI + "a1-energy", "https://id.lms-service.org/paths/resource-efficiency"):
        services.set_policy(iri, validity_days=365, renewal_window_days=60)
    user_id = create_user()
    start = dt.datetime(2025, 2, 1, 9, 0, tzinfo=UTC)
    registrations = {slug: pass_module(user_id, slug, when=start + dt.timedelta(hours=i))
                     for i, slug in enumerate(catalogue)}
    assert sorted(c.subject_kind for c in all_certificates()) == ["module"] * 3 + ["path"]

    # The same registration, passed again 330 days later (35 days before expiry).
    pass_module(user_id, "a1-energy", registration=registrations["a1-energy"],
                when=start + dt.timedelta(days=330))
    renewed = [c for c in all_certificates() if c.renewal_of_id is not None]
    assert sorted(c.subject_kind for c in renewed) == ["module", "path"]
    verbs = [s["verb"]["id"] for s in certificate_statements()]
    assert verbs.count(Verb.CERTIFICATE_RENEWED) == 2 and verbs.count(Verb.CERTIFICATE_ISSUED) == 4
    # Nothing more when the same statements are processed again from the projection.
    projection.rebuild_progress()
    assert services.issue_missing() == 0


def test_certificate_statements_are_staged_in_the_issuing_transaction_under_the_learners_company(
        catalogue, create_user, create_org, monkeypatch):
    from lms_service.lrs import ingest as ingest_module

    org = create_org()
    user_id = create_user(organisation=org)
    seen = []
    real_stage = ingest_module.stage_statements

    def spy(statements, **kwargs):
        # Called inside the transaction that issues: the new certificate is already visible to it.
        seen.append(db.session.execute(sa.select(Certificate.public_id)).scalars().all())
        return real_stage(statements, **kwargs)

    monkeypatch.setattr(ingest_module, "stage_statements", spy)
    pass_module(user_id, "a1-energy")
    [cert] = all_certificates()
    assert seen == [[cert.public_id]]
    row = db.session.execute(sa.select(Statement).where(Statement.verb_id == Verb.CERTIFICATE_ISSUED)).scalar_one()
    assert row.organisation_id == org


def test_a_refused_certificate_statement_stores_no_certificate(catalogue, create_user, monkeypatch):
    """Certificate and statement are one transaction: if the LRS refuses the statement, no certificate."""
    from lms_service.lrs import ingest as ingest_module

    def refuse(statements, **kwargs):
        raise ingest_module.IngestError(400, "refused for the test")

    monkeypatch.setattr(ingest_module, "stage_statements", refuse)
    user = db.session.get(User, create_user())
    with pytest.raises(ingest_module.IngestError):
        services.issue_for_progress(user, subject_kind="module", subject_iri=BASE_IRI + "a1-energy",
                                    title={"en": "Energy mapping"}, version="1.2.0", basis="r@1",
                                    earned_at=dt.datetime(2026, 1, 1, tzinfo=UTC))
    assert all_certificates() == []
