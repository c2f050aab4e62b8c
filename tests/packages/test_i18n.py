"""Validation messages come in the author's language (the CLI or request locale), not only in English."""
from __future__ import annotations

from flask_babel import force_locale

from lms_service.packages.package import validate_package

from .helpers import FIXTURES


def test_messages_follow_the_locale(app):
    with app.app_context():
        with force_locale("en"):
            english = validate_package(FIXTURES / "unknown-field")[0].messages()
        with force_locale("sv"):
            swedish = validate_package(FIXTURES / "unknown-field")[0].messages()

    assert english == ["module.yaml:19: license: Unknown field."]
    # The Swedish catalog is maintained by the lead engineer; whatever it says, it is not the English text.
    assert len(swedish) == 1 and swedish[0].startswith("module.yaml:19: license: ")
    assert swedish != english


def test_lazy_messages_outside_an_app_are_english():
    assert validate_package(FIXTURES / "missing-field")[0].messages() == ["module.yaml:1: licence: This field is required."]
