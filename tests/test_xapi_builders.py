"""The player's statements are valid xAPI in both versions, pseudonymous, and described by the profile."""
import datetime as dt
import json
from pathlib import Path

import pytest

from xapi import builders
from xapi.validation import validate_statement
from xapi.vocabulary import PROFILE_IRI, PROFILE_VERSION_IRI, VERB_DISPLAY, Extension, Verb

PROFILE = json.loads((Path(__file__).resolve().parent.parent / "xapi" / "profile.jsonld").read_text())

SESSION = builders.ModuleSession(
    home_page="https://lms.example.se", account_name="0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    registration="3fa85f64-5717-4562-b3fc-2c963f66afa6", module_iri="https://id.lms-service.org/modules/a1",
    module_title={"sv": "Energikartläggning", "en": "Energy mapping"}, module_version="1.2.0", language="sv",
    path_iri="https://id.lms-service.org/paths/resource-efficiency",
    path_title={"sv": "Resurseffektivitet", "en": "Resource efficiency"})

INTERACTION = {"type": "http://adlnet.gov/expapi/activities/cmi.interaction", "interactionType": "choice",
               "correctResponsesPattern": ["b"], "name": {"sv-SE": "Hur stor andel?"},
               "choices": [{"id": "a", "description": {"sv-SE": "25 %"}}, {"id": "b", "description": {"sv-SE": "50 %"}}]}


def all_statements():
    duration = dt.timedelta(minutes=14, seconds=3)
    return [
        builders.launched(SESSION), builders.initialized(SESSION), builders.resumed(SESSION),
        builders.suspended(SESSION, 40),
        builders.progressed(SESSION, SESSION.module_iri + "/lessons/why", {"sv": "Varför", "en": "Why"}, 20),
        builders.answered(SESSION, SESSION.module_iri + "/questions/share", INTERACTION, "b", True, attempt=1),
        builders.completed(SESSION, duration), builders.judged(SESSION, True, 7 / 8, 7, 8, duration),
        builders.judged(SESSION, False, 0.5, 4, 8, duration), builders.terminated(SESSION, duration),
        builders.certificate_event(Verb.CERTIFICATE_REVOKED, home_page=SESSION.home_page,
                                   account_name=SESSION.account_name, certificate_iri="https://lms.example.se/verify/x1",
                                   certificate_id="x1", title={"sv": "Intyg", "en": "Certificate"},
                                   subject_iri=SESSION.module_iri, reason="Issued by mistake"),
    ]


@pytest.mark.parametrize("version", ["2.0.0", "1.0.3"])
def test_every_statement_is_valid_xapi(version):
    for statement in all_statements():
        validate_statement(statement, version)


def test_actor_is_a_pseudonymous_account():
    for statement in all_statements():
        assert statement["actor"] == {"objectType": "Agent", "account": {
            "homePage": "https://lms.example.se", "name": "0f1e2d3c4b5a69788796a5b4c3d2e1f0"}}


def test_context_carries_registration_module_path_language_and_platform():
    statement = builders.answered(SESSION, SESSION.module_iri + "/questions/share", INTERACTION, "b", True, attempt=2)
    context = statement["context"]
    assert context["registration"] == SESSION.registration
    assert context["language"] == "sv-SE" and context["platform"] == "lms_service"
    assert context["contextActivities"]["parent"][0]["id"] == SESSION.module_iri
    assert context["contextActivities"]["grouping"][0]["id"] == SESSION.path_iri
    assert context["extensions"][Extension.ATTEMPT] == 2
    assert context["extensions"][Extension.MODULE_VERSION] == "1.2.0"
    assert statement["timestamp"].endswith("Z")


def test_judged_statement_has_scaled_score_success_and_duration():
    statement = builders.judged(SESSION, False, 0.5, 4, 8, dt.timedelta(minutes=3))
    assert statement["verb"]["id"] == Verb.FAILED
    assert statement["result"]["score"] == {"scaled": 0.5, "raw": 4, "min": 0, "max": 8}
    assert statement["result"]["success"] is False
    assert statement["result"]["duration"].startswith("PT")


def test_certificate_event_refuses_other_verbs():
    with pytest.raises(ValueError):
        builders.certificate_event(Verb.PASSED, home_page="h", account_name="a", certificate_iri="https://x/1",
                                   certificate_id="1", title={"en": "x"}, subject_iri="https://x/m")


def test_profile_describes_every_verb_the_service_sends():
    assert PROFILE["id"] == PROFILE_IRI and PROFILE["versions"][0]["id"] == PROFILE_VERSION_IRI
    template_verbs = {template["verb"] for template in PROFILE["templates"]}
    sent = {statement["verb"]["id"] for statement in all_statements()}
    assert sent <= template_verbs
    own = {concept["id"] for concept in PROFILE["concepts"]}
    for iri in VERB_DISPLAY:
        if iri.startswith(PROFILE_IRI):
            assert iri in own, iri
    for concept in PROFILE["concepts"] + PROFILE["templates"]:
        assert set(concept["prefLabel"]) == {"en", "sv"} and concept["inScheme"] == PROFILE_VERSION_IRI
