"""paths.yaml: a module of a path may carry its own cmi5 moveOn rule or be optional."""
from pathlib import Path

from lms_service.packages.package import load_paths

PATH = """paths:
  - id: p
    iri: https://id.lms-service.org/paths/p
    title: {sv: Spår, en: Path}
    summary: {sv: Om spåret, en: About the path}
    certificate_title: {sv: Intyg, en: Certificate}
    move_on: Passed
    modules:
%s
"""


def load(tmp_path: Path, modules: str):
    path = tmp_path / "paths.yaml"
    path.write_text(PATH % modules, encoding="utf-8")
    return load_paths(path)


def messages(report) -> list[str]:
    return [str(issue) for issue in report.issues]


def test_slugs_and_mappings_are_normalised(tmp_path):
    report, paths = load(tmp_path, "      - a1-energy\n"
                                   "      - {module: a2-iso, move_on: Completed}\n"
                                   "      - {module: a3-circular, required: false}")
    assert not report.issues
    assert paths["paths"][0]["modules"] == [
        {"module": "a1-energy", "move_on": None, "required": True},
        {"module": "a2-iso", "move_on": "Completed", "required": True},
        {"module": "a3-circular", "move_on": None, "required": False},
    ]


def test_bad_entries_are_named(tmp_path):
    report, paths = load(tmp_path, "      - a1-energy\n"
                                   "      - {module: a2-iso, move_on: Sometimes}\n"
                                   "      - {module: a3-circular, colour: green}\n"
                                   "      - 42")
    assert paths is None
    text = "\n".join(messages(report))
    assert "'Sometimes' is not a cmi5 moveOn value" in text
    assert "Unknown field" in text and "colour" in text
    assert "Expected a module slug or a mapping" in text


def test_duplicates_and_paths_without_a_required_module_are_refused(tmp_path):
    report, _ = load(tmp_path, "      - a1-energy\n      - {module: a1-energy, move_on: Completed}")
    assert "The module 'a1-energy' is listed more than once." in "\n".join(messages(report))
    report, _ = load(tmp_path, "      - {module: a1-energy, required: false}")
    assert "At least one module of a path must be required." in "\n".join(messages(report))


def test_import_stores_each_modules_rule(app, runner, tmp_path):
    import sqlalchemy as sa

    from lms_service.extensions import db
    from lms_service.packages.models import LearningPath

    (tmp_path / "paths.yaml").write_text(PATH % ("      - a1-energy\n"
                                                 "      - {module: a2-iso, move_on: Completed, required: false}"),
                                         encoding="utf-8")
    result = runner.invoke(args=["modules", "import", str(tmp_path)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        path = db.session.execute(sa.select(LearningPath)).scalar_one()
        assert path.module_entries == [{"module": "a1-energy", "move_on": None, "required": True},
                                       {"module": "a2-iso", "move_on": "Completed", "required": False}]
