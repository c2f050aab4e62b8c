"""Every way a package can be broken has a fixture under fixtures/ and the exact message it gets."""
from __future__ import annotations

import pytest

from lms_service.packages.package import validate_package

from .helpers import FIXTURES, VALID, copy_package

TYPES = "single_choice, multiple_choice, true_false, numeric, matching, ordering, fill_in"

EXPECTED = {
    "bad-yaml": ["module.yaml:8: This is not valid YAML (mapping values are not allowed here)."],
    "duplicate-key": ["module.yaml:19: The key 'licence' appears twice in the same mapping."],
    "missing-field": ["module.yaml:1: licence: This field is required."],
    "unknown-field": ["module.yaml:19: license: Unknown field."],
    "unknown-question-type": [
        f"quiz.yaml:11: questions[2].type: Unknown question type 'essay'; the types are {TYPES}."],
    "correct-not-a-choice": [
        "quiz.yaml:8: questions[1].correct: The correct answer 'c' is not one of the choices (a, b)."],
    "missing-language": [
        "module.yaml:6: title.en: The translation into 'en' is missing.",
        "module.yaml:27: lessons[1].file: The lesson file 'lessons/01-intro.en.md' is missing.",
    ],
    "missing-media-file": ["module.yaml:36: media[1].file: The media file 'media/box.svg' is missing."],
    "missing-alt-text": ["module.yaml:37: media[1].alt.sv: The translation into 'sv' is missing."],
    "undeclared-image": [
        "lessons/01-intro.en.md:5: The image 'media/box.svg' is not listed under media in module.yaml."],
    "duplicate-ids": ["quiz.yaml:15: questions[3].id: The id 'second' is used more than once."],
    "raw-html": ["lessons/01-intro.en.md:5: Raw HTML is not allowed in lessons: <script>alert(1)</script>"],
    "unknown-citation": ["lessons/01-intro.sv.md:1: The citation [ref:nowhere] names no reference in module.yaml."],
    "bad-link": ["lessons/01-intro.en.md:5: The link 'file:///etc/passwd' must start with https:, http: or mailto:."],
    "estimate-off": [
        "module.yaml:12: estimated_minutes: 30 minutes does not match the 'en' text: about 4 minutes (54 words of "
        "lesson text at 180 a minute, plus 4 questions at one minute each); keep within 25 % of that.",
        "module.yaml:12: estimated_minutes: 30 minutes does not match the 'sv' text: about 4 minutes (55 words of "
        "lesson text at 180 a minute, plus 4 questions at one minute each); keep within 25 % of that."],
    "bad-numeric-range": ["quiz.yaml:23: questions[4].correct.min: min (3) is greater than max (2)."],
    "unsafe-svg": [
        "media/box.svg: The SVG 'media/box.svg' contains a <script> element, which is not allowed.",
        "media/box.svg: The SVG 'media/box.svg' has an event attribute (onclick), which is not allowed.",
    ],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_package_gets_exact_messages(name):
    report, package = validate_package(FIXTURES / name)

    assert package is None
    assert report.messages() == EXPECTED[name]


def test_every_fixture_has_a_test():
    folders = {path.name for path in FIXTURES.iterdir() if path.is_dir()}
    assert folders - {"valid-minimal"} == set(EXPECTED)


def test_valid_fixture_is_valid():
    report, package = validate_package(FIXTURES / "valid-minimal")

    assert report.messages() == []
    assert package.slug == "minimal-module"
    assert package.version == "1.0.0"
    assert set(package.lessons["intro"]) == {"sv", "en"}


def test_all_errors_are_reported_at_once(tmp_path):
    package = tmp_path / "many"
    (package / "lessons").mkdir(parents=True)
    (package / "module.yaml").write_text(
        "format: 2\nid: not an iri\nslug: X\nversion: '1.0'\nlanguages: [sv, de]\ntitle: {sv: T}\n"
        "colour: red\nquiz: quiz.yaml\n", encoding="utf-8")
    (package / "quiz.yaml").write_text("questions: []\n", encoding="utf-8")

    report, parsed = validate_package(package)

    messages = report.messages()
    assert parsed is None
    assert "module.yaml:2: id: Expected an absolute IRI (https:, http: or urn:)." in messages
    assert ("module.yaml:3: slug: A slug is 3-64 lower-case letters a-z, digits and hyphens, "
            "not starting or ending with a hyphen.") in messages
    assert "module.yaml:4: version: Expected a semantic version MAJOR.MINOR.PATCH, e.g. 1.0.0." in messages
    assert "module.yaml:5: languages: 'de' is not a supported language (sv, en)." in messages
    assert "module.yaml:7: colour: Unknown field." in messages
    assert "module.yaml:1: summary: This field is required." in messages
    assert "module.yaml:1: format: This service reads package format 1, not 2." in messages
    assert "quiz.yaml:1: questions: List at least 1 items; there are 0." in messages
    assert len(messages) >= 12


def test_question_errors_point_into_the_question(tmp_path):
    package = copy_package(VALID, tmp_path / "p")
    quiz = (package / "quiz.yaml").read_text(encoding="utf-8")
    quiz = quiz.replace("correct: true\n", "correct: yes please\n").replace(
        "correct: {min: 2, max: 3}", "correct: {value: 2, tolerance: -1}")
    quiz += ("  - id: match\n    type: matching\n    prompt: {sv: P, en: P}\n    explanation: {sv: E, en: E}\n"
             "    sources: [{id: a, text: {sv: A, en: A}}, {id: b, text: {sv: B, en: B}}]\n"
             "    targets: [{id: x, text: {sv: X, en: X}}, {id: y, text: {sv: Y, en: Y}}]\n"
             "    correct: {a: z}\n")
    (package / "quiz.yaml").write_text(quiz, encoding="utf-8")

    messages = validate_package(package)[0].messages()

    assert "quiz.yaml:13: questions[2].correct: Expected true or false." in messages
    assert "quiz.yaml:23: questions[4].correct.tolerance: Must be at least 0; it is -1." in messages
    assert ("quiz.yaml:31: questions[5].correct: The correct answer 'z' is not one of the targets (x, y)."
            in messages)
    assert "quiz.yaml:31: questions[5].correct: Every source needs its target; missing: b." in messages


def test_yaml_aliases_are_refused(tmp_path):
    from lms_service.packages.package import validate_files

    bomb = b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b]\n"

    report, package = validate_files({"module.yaml": bomb})

    assert package is None
    assert report.messages() == [
        "module.yaml:2: YAML aliases (*name) are not allowed in a package; write the value out."]


def test_yaml_python_tags_are_refused():
    from lms_service.packages.package import validate_files

    report, _package = validate_files({"module.yaml": b"a: !!python/object/apply:os.system [echo hi]\n"})

    assert len(report.messages()) == 1
    assert report.messages()[0].startswith("module.yaml:1: This is not valid YAML (could not determine a constructor")
