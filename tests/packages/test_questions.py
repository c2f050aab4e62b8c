"""The question-type registry: grading, form parsing, xAPI definitions and rendering without answers."""
from __future__ import annotations

from decimal import Decimal

import pytest
from werkzeug.datastructures import MultiDict

from lms_service.packages.package import validate_package
from lms_service.packages.questions import QUESTION_TYPES, ResponseError, get_question_type

from .helpers import SAMPLE


@pytest.fixture(scope="module")
def questions():
    report, package = validate_package(SAMPLE)
    assert report.ok, report.messages()
    return {q["id"]: q for q in package.quiz["questions"]}


def test_registry_has_every_type_with_its_cmi_interaction_type():
    assert {name: t.interaction_type for name, t in QUESTION_TYPES.items()} == {
        "single_choice": "choice", "multiple_choice": "choice", "true_false": "true-false",
        "numeric": "numeric", "matching": "matching", "ordering": "sequencing", "fill_in": "fill-in",
    }


def test_sample_uses_every_type(questions):
    assert {q["type"] for q in questions.values()} == set(QUESTION_TYPES)


@pytest.mark.parametrize("qid, form, expected, correct", [
    ("biggest-cost", {"q-biggest-cost": "heat"}, "heat", True),
    ("biggest-cost", {"q-biggest-cost": "noise"}, "noise", False),
    ("leak-places", MultiDict([("q-leak-places", "hoses"), ("q-leak-places", "couplings")]),
     ["couplings", "hoses"], True),
    ("leak-places", {"q-leak-places": ["couplings"]}, ["couplings"], False),
    ("leaks-at-night", {"q-leaks-at-night": "false"}, False, True),
    ("leaks-at-night", {"q-leaks-at-night": "true"}, True, False),
    ("round-steps", {"q-round-steps": " 4,0 "}, Decimal("4.0"), True),
    ("round-steps", {"q-round-steps": "5"}, Decimal("5"), False),
    ("sound-size", {"q-sound-size-small": "hiss", "q-sound-size-large": "blow"}, {"small": "hiss", "large": "blow"},
     True),
    ("sound-size", {"q-sound-size-small": "blow", "q-sound-size-large": "blow"}, {"small": "blow", "large": "blow"},
     False),
    ("round-order", {"q-round-order-quiet": "1", "q-round-order-walk": "2", "q-round-order-tag": "3",
                     "q-round-order-fix": "4"}, ["quiet", "walk", "tag", "fix"], True),
    ("round-order", {"q-round-order-quiet": "2", "q-round-order-walk": "1", "q-round-order-tag": "3",
                     "q-round-order-fix": "4"}, ["walk", "quiet", "tag", "fix"], False),
    ("detector", {"q-detector": "  Ultrasonic "}, "Ultrasonic", True),
    ("detector", {"q-detector": "ULTRALJUD"}, "ULTRALJUD", True),
    ("detector", {"q-detector": "infrared"}, "infrared", False),
])
def test_parse_and_grade(questions, qid, form, expected, correct):
    question = questions[qid]
    kind = get_question_type(question["type"])

    response = kind.parse_response(question, form)

    assert response == expected
    assert kind.grade(question, response) is correct


@pytest.mark.parametrize("qid, form, message", [
    ("biggest-cost", {}, "Please answer the question."),
    ("biggest-cost", {"q-biggest-cost": "gold"}, "That is not one of the choices."),
    ("biggest-cost", {"q-biggest-cost": ["heat", "noise"]}, "Give one answer only."),
    ("leak-places", {"q-leak-places": []}, "Please choose at least one answer."),
    ("leaks-at-night", {"q-leaks-at-night": "maybe"}, "Answer true or false."),
    ("round-steps", {"q-round-steps": "four"}, "Type a number, for example 4.5 or 4,5."),
    ("round-steps", {"q-round-steps": "NaN"}, "Type a number, for example 4.5 or 4,5."),
    ("sound-size", {"q-sound-size-small": "hiss"}, "Match every item."),
    ("round-order", {"q-round-order-quiet": "1", "q-round-order-walk": "1", "q-round-order-tag": "3",
                     "q-round-order-fix": "4"}, "Give each item a different position."),
    ("round-order", {"q-round-order-quiet": "9"}, "Give every item a position."),
    ("detector", {"q-detector": "x" * 201}, "The answer is too long (at most 200 characters)."),
])
def test_malformed_responses_get_a_precise_error(questions, qid, form, message):
    question = questions[qid]

    with pytest.raises(ResponseError) as error:
        get_question_type(question["type"]).parse_response(question, form)

    assert str(error.value.message) == message


def test_numeric_tolerance_and_range():
    kind = get_question_type("numeric")
    tolerance = {"id": "t", "correct": {"value": 4.1, "tolerance": 0.1}}
    exact = {"id": "e", "correct": {"value": 300}}
    span = {"id": "r", "correct": {"min": 20, "max": 30}}

    assert [kind.grade(tolerance, Decimal(v)) for v in ("4.0", "4.2", "4.21", "3.99")] == [True, True, False, False]
    assert [kind.grade(exact, Decimal(v)) for v in ("300", "300.0", "300.01")] == [True, True, False]
    assert [kind.grade(span, Decimal(v)) for v in ("20", "30", "30.5")] == [True, True, False]
    assert kind.correct_patterns(tolerance, ["en"]) == ["4[:]4.2"]
    assert kind.correct_patterns(exact, ["en"]) == ["300"]
    assert kind.correct_patterns(span, ["en"]) == ["20[:]30"]
    assert kind.xapi_response(Decimal("4.10")) == "4.1"


def test_xapi_definitions_follow_the_spec(questions):
    langs = ["sv", "en"]

    def definition(qid):
        question = questions[qid]
        return get_question_type(question["type"]).xapi_definition(question, langs)

    single = definition("biggest-cost")
    assert single["type"] == "http://adlnet.gov/expapi/activities/cmi.interaction"
    assert single["interactionType"] == "choice"
    assert single["correctResponsesPattern"] == ["heat"]
    assert single["choices"][0] == {"id": "heat", "description": {"sv": "Värme", "en": "Heat"}}
    assert single["description"]["en"] == "What does most of the electricity a compressor uses become?"
    assert definition("leak-places")["correctResponsesPattern"] == ["couplings[,]hoses"]
    assert definition("leaks-at-night")["correctResponsesPattern"] == ["false"]
    assert definition("round-steps")["correctResponsesPattern"] == ["4"]
    matching = definition("sound-size")
    assert matching["correctResponsesPattern"] == ["small[.]hiss[,]large[.]blow"]
    assert [s["id"] for s in matching["source"]] == ["small", "large"]
    assert [t["id"] for t in matching["target"]] == ["hiss", "blow"]
    ordering = definition("round-order")
    assert ordering["interactionType"] == "sequencing"
    assert ordering["correctResponsesPattern"] == ["quiet[,]walk[,]tag[,]fix"]
    assert [c["id"] for c in ordering["choices"]] == ["fix", "quiet", "tag", "walk"]
    assert definition("detector")["correctResponsesPattern"] == [
        "{case_matters=false}{lang=sv}ultraljudsdetektor", "{case_matters=false}{lang=sv}ultraljud",
        "{case_matters=false}{lang=en}ultrasonic", "{case_matters=false}{lang=en}ultrasound"]


def test_xapi_responses(questions):
    assert get_question_type("multiple_choice").xapi_response(["couplings", "hoses"]) == "couplings[,]hoses"
    assert get_question_type("true_false").xapi_response(False) == "false"
    assert get_question_type("matching").xapi_response({"small": "hiss", "large": "blow"}) == \
        "small[.]hiss[,]large[.]blow"
    assert get_question_type("ordering").xapi_response(["a", "b"]) == "a[,]b"


def test_ordering_is_never_shown_in_the_correct_order(questions):
    question = questions["round-order"]
    for order in (["fix", "quiet", "tag", "walk"], ["quiet", "walk", "tag", "fix"]):
        variant = {**question, "correct": order}
        assert [i["id"] for i in get_question_type("ordering").shuffled(variant)] != order


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_rendering_never_contains_the_answer(app, questions, lang):
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        for question in questions.values():
            html = str(get_question_type(question["type"]).render(question, lang))

            assert "<fieldset" in html and "<legend" in html
            assert question["prompt"][lang] in html
            assert question["explanation"][lang] not in html
            if question["type"] == "fill_in":
                for answers in question["correct"].values():
                    assert not any(f'value="{answer}"' in html for answer in answers)
            if question["type"] == "numeric":
                assert 'value=""' in html
            assert "checked" not in html and "selected" not in html


def test_rendering_labels_every_input(app, questions):
    import re

    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        for question in questions.values():
            html = str(get_question_type(question["type"]).render(question, "en"))
            ids = re.findall(r'<(?:input|select)[^>]*\sid="([^"]+)"', html)
            assert ids, question["id"]
            for element_id in ids:
                assert f'for="{element_id}"' in html


def test_rendering_after_grading_says_the_result_in_words(app, questions):
    question = questions["biggest-cost"]
    kind = get_question_type("single_choice")
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        wrong = str(kind.render(question, "en", response="noise", feedback={"correct": False}))
        right = str(kind.render(question, "en", response="heat", feedback={"correct": True}))

    assert "Not correct." in wrong and question["explanation"]["en"] in wrong
    assert 'value="noise"\n             checked' in wrong or 'value="noise"' in wrong and "checked" in wrong
    assert "Correct." in right and "Not correct." not in right
    assert "disabled" in right
