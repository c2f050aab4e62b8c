"""`flask modules validate|import|export|list`."""
from __future__ import annotations

import shutil

import sqlalchemy as sa

from lms_service.extensions import db
from lms_service.packages import services
from lms_service.packages.models import GlossaryTerm, LearningPath, Module

from .helpers import FIXTURES, SAMPLE, VALID, copy_package

PATHS_YAML = """\
paths:
  - id: resource-efficiency
    iri: https://id.lms-service.org/paths/resource-efficiency
    title: {sv: Resurseffektivitet, en: Resource efficiency}
    summary: {sv: Kort., en: Short.}
    certificate_title: {sv: Resurseffektiv produktion, en: Resource-efficient production}
    move_on: Passed
    modules: [sample-compressed-air, minimal-module]
"""
GLOSSARY_YAML = """\
terms:
  - id: scope-1
    term: {sv: direkta utsläpp, en: direct emissions}
    definition: {sv: Utsläpp från egna källor., en: Emissions from own sources.}
"""


def invoke(runner, args):
    """Run a command with English messages whatever the terminal's language is."""
    return runner.invoke(args=args, env={"LMS_LANGUAGE": "en"})


def catalogue(tmp_path):
    folder = tmp_path / "modules"
    folder.mkdir()
    copy_package(SAMPLE, folder / "sample-compressed-air")
    copy_package(VALID, folder / "minimal-module")
    (folder / "paths.yaml").write_text(PATHS_YAML, encoding="utf-8")
    (folder / "glossary.yaml").write_text(GLOSSARY_YAML, encoding="utf-8")
    return folder


def test_validate_exit_codes(runner):
    ok = invoke(runner, ["modules", "validate", str(SAMPLE)])
    bad = invoke(runner, ["modules", "validate", str(FIXTURES / "correct-not-a-choice"), str(SAMPLE)])

    assert ok.exit_code == 0, ok.output
    assert "All valid: 1 package(s) checked." in ok.output
    assert bad.exit_code == 1
    assert ("correct-not-a-choice: quiz.yaml:8: questions[1].correct: The correct answer 'c' is not one of the "
            "choices (a, b).") in bad.output


def test_import_catalogue_with_paths_and_glossary_then_again(app, runner, tmp_path):
    folder = catalogue(tmp_path)

    first = invoke(runner, ["modules", "import", str(folder)])
    second = invoke(runner, ["modules", "import", str(folder)])

    assert first.exit_code == 0, first.output
    assert "sample-compressed-air 1.0.0: new module" in first.output
    assert "minimal-module 1.0.0: new module" in first.output
    assert "Learning paths: 1" in first.output and "Glossary terms: 1" in first.output
    assert second.exit_code == 0
    assert "sample-compressed-air 1.0.0: unchanged" in second.output
    with app.app_context():
        path = services.get_learning_path("resource-efficiency")
        assert path.module_slugs == ["sample-compressed-air", "minimal-module"]
        assert path.move_on == "Passed" and path.certificate_title["en"] == "Resource-efficient production"
        assert db.session.execute(sa.select(GlossaryTerm.key)).scalars().all() == ["scope-1"]
        assert db.session.execute(sa.select(sa.func.count()).select_from(LearningPath)).scalar_one() == 1
        assert all(services.latest_published_version(m) is not None for m in services.list_modules())


def test_import_refuses_everything_when_one_package_is_invalid(app, runner, tmp_path):
    folder = catalogue(tmp_path)
    shutil.copytree(FIXTURES / "duplicate-ids", folder / "broken")

    result = invoke(runner, ["modules", "import", str(folder)])

    assert result.exit_code == 1
    assert "quiz.yaml:15: questions[3].id: The id 'second' is used more than once." in result.output
    assert "Nothing was imported." in result.output
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count()).select_from(Module)).scalar_one() == 0


def test_import_refuses_changed_content_under_the_same_version(app, runner, tmp_path):
    invoke(runner, ["modules", "import", str(SAMPLE)])
    changed = copy_package(SAMPLE, tmp_path / "changed")
    quiz = changed / "quiz.yaml"
    quiz.write_text(quiz.read_text(encoding="utf-8").replace("correct: heat", "correct: noise"), encoding="utf-8")

    result = invoke(runner, ["modules", "import", str(changed)])

    assert result.exit_code == 1
    assert "sample-compressed-air 1.0.0: Version 1.0.0 of 'sample-compressed-air' is already imported" in result.output


def test_export_then_import_is_unchanged_and_list_shows_versions(app, runner, tmp_path):
    assert invoke(runner, ["modules", "import", "--draft", str(SAMPLE)]).exit_code == 0
    target = tmp_path / "out.zip"

    exported = invoke(runner, ["modules", "export", "sample-compressed-air", "-o", str(target)])
    again = invoke(runner, ["modules", "import", str(target)])
    listed = invoke(runner, ["modules", "list"])
    missing = invoke(runner, ["modules", "export", "no-such-module"])

    assert exported.exit_code == 0 and target.stat().st_size > 0
    assert again.exit_code == 0 and "sample-compressed-air 1.0.0: unchanged" in again.output
    assert listed.output.startswith("sample-compressed-air\t1.0.0\thttps://id.lms-service.org/modules/")
    assert missing.exit_code == 1 and "There is no module 'no-such-module'." in missing.output


def test_list_when_empty(runner):
    assert invoke(runner, ["modules", "list"]).output == "No modules imported.\n"
