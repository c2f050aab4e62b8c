"""`flask certificates ...`: every argument is checked, bad input changes nothing."""
from __future__ import annotations

import json

import sqlalchemy as sa

from lms_service.certificates import services
from lms_service.certificates.models import Certificate, CertificatePolicy
from lms_service.extensions import db

from .helpers import BASE_IRI, pass_module


def _count(app, model) -> int:
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar()


def test_policy_command_sets_and_refuses(app, runner, catalogue):
    iri = BASE_IRI + "a1-energy"
    result = runner.invoke(args=["certificates", "policy", iri, "--validity-days", "730", "--renewal-days", "60"])
    assert result.exit_code == 0 and "valid 730 days" in result.output
    with app.app_context():
        assert services.policy_for(iri) == services.Policy(730, 60)
    for args in (["https://example.org/none", "--validity-days", "10", "--renewal-days", "1"],
                 [iri, "--validity-days", "-1", "--renewal-days", "1"],
                 [iri, "--validity-days", "10", "--renewal-days", "20"],
                 [iri, "--validity-days", "ten", "--renewal-days", "1"]):
        result = runner.invoke(args=["certificates", "policy", *args])
        assert result.exit_code != 0, args
    with app.app_context():
        assert services.policy_for(iri) == services.Policy(730, 60)
    assert _count(app, CertificatePolicy) == 1


def test_revoke_command_needs_an_admin_and_a_known_id(app, runner, catalogue, create_user):
    learner = create_user(email="l@example.se")
    create_user(email="admin@example.se", roles=("admin",))
    with app.app_context():
        pass_module(learner, "a1-energy")
        public_id = db.session.execute(sa.select(Certificate.public_id)).scalar_one()
    result = runner.invoke(args=["certificates", "revoke", "nope", "--reason", "x", "--by", "admin@example.se"])
    assert result.exit_code == 1 and "no certificate" in result.output
    result = runner.invoke(args=["certificates", "revoke", public_id, "--reason", "x", "--by", "l@example.se"])
    assert result.exit_code == 1 and "not an admin" in result.output
    result = runner.invoke(args=["certificates", "revoke", public_id, "--reason", " ", "--by", "admin@example.se"])
    assert result.exit_code == 1
    with app.app_context():
        assert db.session.execute(sa.select(Certificate.revoked_at)).scalar_one() is None
    result = runner.invoke(args=["certificates", "revoke", public_id, "--reason", "Fraud", "--by", "Admin@Example.se"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.execute(sa.select(Certificate.revocation_reason)).scalar_one() == "Fraud"


def test_issue_missing_and_public_key_commands(app, runner, catalogue, create_user):
    result = runner.invoke(args=["certificates", "issue-missing"])
    assert result.exit_code == 0 and "0 certificate(s) issued" in result.output
    jwks = json.loads(runner.invoke(args=["certificates", "public-key"]).output)
    assert jwks["keys"][0]["kty"] == "OKP" and "d" not in jwks["keys"][0]
