"""The example package in docs/examples/ is complete and valid; the CLI without an app checks it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from lms_service.packages.__main__ import main
from lms_service.packages.package import validate_package
from lms_service.packages.questions import QUESTION_TYPES

from .helpers import FIXTURES, SAMPLE


def test_sample_module_is_valid_and_uses_everything():
    report, package = validate_package(SAMPLE)

    assert report.messages() == []
    assert package.manifest["languages"] == ["sv", "en"]
    assert {q["type"] for q in package.quiz["questions"]} == set(QUESTION_TYPES)
    assert set(package.media) == {"media/leak.svg"}
    assert all(set(texts) == {"sv", "en"} for texts in package.lessons.values())


def test_the_format_doc_lists_every_question_type():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "module-format.md").read_text(encoding="utf-8")

    for type_name, kind in QUESTION_TYPES.items():
        assert f"| `{type_name}` | `{kind.interaction_type}` |" in doc


def test_main_exit_codes(capsys):
    assert main(["validate", str(SAMPLE)]) == 0
    assert capsys.readouterr().out.strip().endswith("All valid: 1 package(s) checked.")

    assert main(["validate", str(FIXTURES / "missing-field"), str(SAMPLE)]) == 1
    out = capsys.readouterr().out
    assert "missing-field: module.yaml:1: licence: This field is required." in out
    assert out.strip().endswith("1 problem(s) found in 2 item(s) checked.")


def test_python_dash_m_runs_without_an_app(tmp_path):
    completed = subprocess.run([sys.executable, "-m", "lms_service.packages", "validate", str(FIXTURES / "bad-yaml")],
                               capture_output=True, text=True, cwd=tmp_path, timeout=60,
                               env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[2])})

    assert completed.returncode == 1
    assert "module.yaml:8: This is not valid YAML (mapping values are not allowed here)." in completed.stdout
