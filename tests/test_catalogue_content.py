"""The bundled starter catalogue (modules/): ten bilingual modules that meet the programme's content rules."""
import re
from decimal import Decimal
from pathlib import Path

import pytest

from lms_service.packages.package import (
    catalogue_packages,
    check_catalogue,
    load_glossary,
    load_paths,
    validate_package,
)
from lms_service.packages.questions import QUESTION_TYPES, get_question_type

CATALOGUE = Path(__file__).resolve().parent.parent / "modules"
LANGUAGES = ("sv", "en")
PACKAGES = catalogue_packages(CATALOGUE)


def parsed(path):
    report, package = validate_package(path)
    assert package is not None and not report.issues, report.issues
    return package


@pytest.fixture(scope="module")
def packages():
    return [parsed(path) for path in PACKAGES]


def test_ten_modules_in_three_paths(packages):
    assert len(packages) == 10
    report, paths = load_paths(CATALOGUE / "paths.yaml")
    assert not report.issues and paths is not None
    assert [p["id"] for p in paths["paths"]] == ["resource-efficiency", "fossil-free-electrification",
                                                 "green-data-compliance"]
    assert not check_catalogue(paths, packages).issues
    listed = {entry["module"]: p["id"] for p in paths["paths"] for entry in p["modules"]}
    assert set(listed) == {p.slug for p in packages}
    for package in packages:
        assert package.manifest["learning_path"] == listed[package.slug]
    for learning_path in paths["paths"]:
        for language in LANGUAGES:
            assert learning_path["certificate_title"][language].strip()


def test_glossary_is_valid_and_bilingual():
    report, glossary = load_glossary(CATALOGUE / "glossary.yaml")
    assert not report.issues and glossary is not None
    assert len(glossary["terms"]) >= 30
    for term in glossary["terms"]:
        for language in LANGUAGES:
            assert term["term"][language].strip() and term["definition"][language].strip()


@pytest.mark.parametrize("path", PACKAGES, ids=[p.name for p in PACKAGES])
def test_module_meets_the_content_rules(path):
    package = parsed(path)
    manifest, quiz = package.manifest, package.quiz
    assert set(manifest["languages"]) == set(LANGUAGES)
    assert manifest["licence"] == "CC-BY-4.0"
    assert manifest["facts_checked"]
    assert 15 <= manifest["estimated_minutes"] <= 25
    assert 3 <= len(manifest["objectives"]) <= 4
    assert 3 <= len(manifest["lessons"]) <= 5
    assert 6 <= len(quiz["questions"]) <= 10
    for lesson in manifest["lessons"]:
        for language in LANGUAGES:
            assert package.lessons[lesson["id"]][language].strip()
            assert lesson["workplace_task"][language].strip(), f"{lesson['id']} has no workplace task"
    for reference in manifest["references"]:
        assert reference["title"].strip() and reference["organisation"].strip() and reference["year"]
    for medium in manifest.get("media", []):
        for language in LANGUAGES:
            assert medium["alt"][language].strip()


@pytest.mark.parametrize("path", PACKAGES, ids=[p.name for p in PACKAGES])
def test_estimated_minutes_match_the_text_in_each_language(path):
    package = parsed(path)
    manifest = package.manifest
    questions = len(package.quiz["questions"])
    for language in LANGUAGES:
        words = sum(len(re.findall(r"\w+", package.lessons[lesson["id"]][language])) +
                    len(re.findall(r"\w+", lesson["workplace_task"][language])) for lesson in manifest["lessons"])
        minutes = words / 180 + questions
        estimate = manifest["estimated_minutes"]
        assert 0.75 * estimate <= minutes <= 1.25 * estimate, (language, words, round(minutes, 1), estimate)


def correct_response(question):
    kind, correct = question["type"], question.get("correct")
    if kind == "numeric":
        return Decimal(str(correct["value"] if "value" in correct else correct["min"]))
    if kind == "fill_in":
        return correct["sv"][0]
    return correct


def wrong_response(question):
    kind, correct = question["type"], question.get("correct")
    if kind == "single_choice":
        return next(c["id"] for c in question["choices"] if c["id"] != correct)
    if kind == "multiple_choice":
        return [c["id"] for c in question["choices"] if c["id"] not in correct] or correct[:-1]
    if kind == "true_false":
        return not correct
    if kind == "numeric":
        high = correct.get("max", correct.get("value", 0) + correct.get("tolerance", 0))
        return Decimal(str(high)) + 1000
    if kind == "matching":
        first = next(iter(correct))
        other = next(source for source in correct if correct[source] != correct[first])
        return {**correct, first: correct[other], other: correct[first]}
    if kind == "ordering":
        return list(reversed(correct))
    return "definitely not the answer"


@pytest.mark.parametrize("path", PACKAGES, ids=[p.name for p in PACKAGES])
def test_every_question_has_a_reachable_correct_answer_and_an_explanation(path):
    package = parsed(path)
    lesson_ids = {lesson["id"] for lesson in package.manifest["lessons"]}
    for question in package.quiz["questions"]:
        question_type = get_question_type(question["type"])
        assert question_type.grade(question, correct_response(question)), question["id"]
        assert not question_type.grade(question, wrong_response(question)), question["id"]
        for language in LANGUAGES:
            assert question["explanation"][language].strip()
        if question["type"] == "fill_in":
            assert question["correct"]["en"] and question["correct"]["sv"]
        assert question.get("lesson") in lesson_ids, f"{question['id']}: no lesson to review"


def test_the_catalogue_uses_every_question_type(packages):
    used = {question["type"] for package in packages for question in package.quiz["questions"]}
    assert used == set(QUESTION_TYPES)
