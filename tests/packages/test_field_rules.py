"""Single rules of the format, each by a small edit of the valid fixture and the exact message it gets."""
from __future__ import annotations

import pytest

from lms_service.packages.package import validate_files
from lms_service.packages.validation import format_result, validate_targets

from .helpers import VALID, copy_package, folder_entries

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16
MEDIA = "media:\n  - file: media/{name}\n    alt: {{sv: Bild, en: Picture}}\nquiz: quiz.yaml"
IMAGE = "\n\n![](media/{name})\n"


def edited(manifest=None, quiz=None, add=None, remove=()):
    files = folder_entries(VALID)
    for path, (old, new) in (("module.yaml", manifest or (None, None)), ("quiz.yaml", quiz or (None, None))):
        if old is not None:
            text = files[path].decode()
            assert old in text, old
            files[path] = text.replace(old, new, 1).encode()
    for path, content in (add or {}).items():
        files[path] = content if isinstance(content, bytes) else files.get(path, b"") + content.encode()
    for path in remove:
        del files[path]
    report, package = validate_files(files)
    assert package is None
    return report.messages()


QUESTION = "  - id: fourth\n"


@pytest.mark.parametrize("edit, expected", [
    (dict(manifest=("en: The smallest module", "en: The smallest module\n  de: Das kleinste Modul")),
     ["module.yaml:9: title.de: 'de' is not one of the module's languages (sv, en)."]),
    (dict(manifest=("sv: Minsta modulen", "sv: '   '")),
     ["module.yaml:7: title.sv: The 'sv' text must be non-empty text."]),
    (dict(manifest=("en: The smallest module", "en: " + "x" * 121)),
     ["module.yaml:8: title.en: At most 120 characters, this has 121."]),
    (dict(manifest=("version: 1.0.0", "version: 1.0")),
     ["module.yaml:4: version: Expected text."]),
    (dict(manifest=("facts_checked: 2025-01-31", "facts_checked: 2025-02-30")),
     ["module.yaml:17: facts_checked: Expected a date written YYYY-MM-DD."]),
    (dict(manifest=("mastery_score: 0.75", "mastery_score: 75")),
     ["module.yaml:16: mastery_score: Must be between 0 and 1; it is 75."]),
    (dict(manifest=("estimated_minutes: 5", "estimated_minutes: true")),
     ["module.yaml:12: estimated_minutes: Expected a whole number."]),
    (dict(manifest=("file: lessons/01-intro", "file: lessons/01-intro.md")),
     ["lessons/01-intro.en.md: This file is not a lesson of the module (check the lesson's file and the language "
      "suffix).",
      "lessons/01-intro.sv.md: This file is not a lesson of the module (check the lesson's file and the language "
      "suffix).",
      "module.yaml:28: lessons[1].file: Give the path without language suffix and .md, e.g. lessons/01-intro."]),
    (dict(add={"notes.yaml": b"a: 1\n", "media/extra.png": PNG}),
     ["media/extra.png: This file is not listed under media in module.yaml.",
      "notes.yaml: This file is not part of the module format."]),
    (dict(manifest=("quiz: quiz.yaml", MEDIA.format(name="pic.png")), add={"media/pic.png": b"GIF89a..."},
          ),
     ["media/pic.png: The content of 'media/pic.png' is not a PNG image.",
      "module.yaml:36: media[1].file: The media file 'media/pic.png' is not used in any lesson."]),
    (dict(manifest=("quiz: quiz.yaml", MEDIA.format(name="pic.png")),
          add={"media/pic.png": PNG, "lessons/01-intro.sv.md": IMAGE.format(name="pic.png"),
               "lessons/01-intro.en.md": IMAGE.format(name="pic.png")}, quiz=("correct: a\n", "correct: a\n    lesson: nowhere\n")),
     ["quiz.yaml:9: questions[1].lesson: The lesson 'nowhere' is not a lesson of the module."]),
    (dict(add={"lessons/01-intro.en.md": b"\xff\xfe not utf-8"}),
     ["lessons/01-intro.en.md: The file is not UTF-8 text."]),
    (dict(quiz=("correct: {min: 2, max: 3}", "correct: {min: 2}")),
     ["quiz.yaml:23: questions[4].correct: A range needs both min and max."]),
    (dict(quiz=("correct: {min: 2, max: 3}", "correct: {value: 2, min: 1}")),
     ["quiz.yaml:23: questions[4].correct: Give either value (with an optional tolerance) or min and max, not both."]),
    (dict(quiz=("correct: {min: 2, max: 3}", "correct: {tolerance: 1, min: 1, max: 2}")),
     ["quiz.yaml:23: questions[4].correct.tolerance: A tolerance needs a value."]),
    (dict(quiz=("type: numeric\n    prompt: {sv: \"Hur många?\", en: \"How many?\"}\n    correct: {min: 2, max: 3}",
                "type: fill_in\n    prompt: {sv: \"Hur många?\", en: \"How many?\"}\n    correct: 42")),
     ["quiz.yaml:23: questions[4].correct: Expected a list of accepted answers per language, e.g. "
      "{sv: [...], en: [...]}."]),
    (dict(quiz=("type: numeric\n    prompt: {sv: \"Hur många?\", en: \"How many?\"}\n    correct: {min: 2, max: 3}",
                "type: fill_in\n    prompt: {sv: \"Hur många?\", en: \"How many?\"}\n"
                "    correct: {sv: [två], en: [], de: [x]}")),
     ["quiz.yaml:23: questions[4].correct.de: 'de' is not one of the module's languages (sv, en).",
      "quiz.yaml:23: questions[4].correct.en: List at least one accepted answer, each non-empty text."]),
    (dict(quiz=("type: single_choice", "type: multiple_choice"),),
     ["quiz.yaml:8: questions[1].correct: Expected a list."]),
    (dict(quiz=("  - {id: b, text: {sv: B, en: B}}", "  - {id: a, text: {sv: B, en: B}}")),
     ["quiz.yaml:7: questions[1].choices[2].id: The id 'a' is used more than once."]),
    (dict(quiz=("      - {id: b, text: {sv: B, en: B}}\n", "")),
     ["quiz.yaml:5: questions[1].choices: List at least 2 items; there are 1."]),
    (dict(quiz=("type: true_false", "type: ordering"),),
     ["quiz.yaml:10: questions[2].items: This field is required.",
      "quiz.yaml:13: questions[2].correct: Expected a list."]),
    (dict(remove=("module.yaml",)), ["module.yaml: The package has no module.yaml at its top level."]),
    (dict(remove=("quiz.yaml",)), ["module.yaml:35: quiz: The quiz file 'quiz.yaml' is missing."]),
    (dict(add={"quiz.yaml": b"- just\n- a list\n"}), ["quiz.yaml:1: Expected a mapping (key: value pairs) at the top."]),
    (dict(add={"quiz.yaml": b""}), ["quiz.yaml: The file is empty."]),
    (dict(add={"lessons/01-intro.en.md": b"\n"}), ["lessons/01-intro.en.md: The lesson is empty."]),
])
def test_rule(edit, expected):
    assert edited(**edit) == expected


def test_catalogue_checks_paths_and_duplicate_slugs(tmp_path):
    folder = tmp_path / "catalogue"
    folder.mkdir()
    copy_package(VALID, folder / "one")
    copy_package(VALID, folder / "two")
    (folder / "empty").mkdir()
    (folder / "paths.yaml").write_text(
        "paths:\n  - id: p\n    iri: urn:x:p\n    title: {sv: T, en: T}\n    summary: {sv: S, en: S}\n"
        "    certificate_title: {sv: C, en: C}\n    move_on: Sometimes\n    modules: [one, ghost]\n",
        encoding="utf-8")

    result = validate_targets([folder])
    text = format_result(result)

    assert not result.ok
    assert f"{folder}/empty: module.yaml: The package has no module.yaml at its top level." in text
    assert ("paths.yaml:7: paths[1].move_on: 'Sometimes' is not a cmi5 moveOn value (Passed, Completed, "
            "CompletedAndPassed, CompletedOrPassed, NotApplicable).") in text
    assert f"{folder}/two/module.yaml: slug: 'minimal-module' is also used by {folder}/one." in text
