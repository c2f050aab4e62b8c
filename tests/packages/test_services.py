"""Import, versions, export and lookups against the database (SQLite or PostgreSQL)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from lms_service.extensions import db
from lms_service.packages import services
from lms_service.packages.models import MediaBlob, Module, ModuleVersion, ModuleVersionMedia
from lms_service.packages.package import validate_files, validate_package
from lms_service.packages.zipsafe import read_zip

from .helpers import SAMPLE, VALID, copy_package


def parsed(path):
    report, package = validate_package(path)
    assert report.ok, report.messages()
    return package


def bump(folder, version, replace=None, quiz_replace=None):
    text = (folder / "module.yaml").read_text(encoding="utf-8")
    text = text.replace("version: 1.0.0", f"version: {version}")
    if replace:
        text = text.replace(*replace)
    (folder / "module.yaml").write_text(text, encoding="utf-8")
    if quiz_replace:
        quiz = (folder / "quiz.yaml").read_text(encoding="utf-8").replace(*quiz_replace)
        (folder / "quiz.yaml").write_text(quiz, encoding="utf-8")


def count(model):
    return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def test_import_creates_module_version_and_media(app):
    with app.app_context():
        result = services.import_package(parsed(SAMPLE), publish=True)

        assert (result.slug, result.version, result.status) == ("sample-compressed-air", "1.0.0", "created")
        module = services.get_module_by_slug("sample-compressed-air")
        assert module.iri == "https://id.lms-service.org/modules/sample-compressed-air"
        version = services.latest_published_version(module)
        assert version.version == "1.0.0" and version.published
        assert version.lessons["why-leaks"]["en"].startswith("Compressed air is one of")
        assert [m.path for m in version.media] == ["media/leak.svg"]
        assert version.media[0].blob.content_type == "image/svg+xml"
        assert services.get_version(module, "1.0.0").id == version.id


def test_same_version_same_content_changes_nothing(app):
    with app.app_context():
        first = services.import_package(parsed(SAMPLE))
        again = services.import_package(parsed(SAMPLE))

        assert again.status == "unchanged" and again.module_version_id == first.module_version_id
        assert (count(Module), count(ModuleVersion), count(MediaBlob)) == (1, 1, 1)


def test_same_version_different_content_is_refused_and_changes_nothing(app, tmp_path):
    changed = copy_package(SAMPLE, tmp_path / "changed")
    bump(changed, "1.0.0", quiz_replace=("correct: heat", "correct: pressure"))
    with app.app_context():
        services.import_package(parsed(SAMPLE))

        with pytest.raises(services.ImportRefused) as error:
            services.import_package(parsed(changed))

        assert error.value.message == (
            "Version 1.0.0 of 'sample-compressed-air' is already imported with different content. A published "
            "version never changes, so that learners halfway through it are not disturbed: raise the version in "
            "module.yaml (for example to 1.0.1) and import again.")
        version = services.get_version(services.get_module_by_slug("sample-compressed-air"), "1.0.0")
        assert version.quiz["questions"][0]["correct"] == "heat"
        assert count(ModuleVersion) == 1


def test_slug_and_iri_are_fixed_for_life(app, tmp_path):
    other_iri = copy_package(SAMPLE, tmp_path / "a")
    bump(other_iri, "2.0.0", replace=("id: https://id.lms-service.org/modules/sample-compressed-air",
                                      "id: https://id.lms-service.org/modules/another"))
    other_slug = copy_package(SAMPLE, tmp_path / "b")
    bump(other_slug, "2.0.0", replace=("slug: sample-compressed-air", "slug: renamed-module"))
    with app.app_context():
        services.import_package(parsed(SAMPLE))

        with pytest.raises(services.ImportRefused) as error:
            services.import_package(parsed(other_iri))
        assert "The slug 'sample-compressed-air' already belongs to the module" in error.value.message
        with pytest.raises(services.ImportRefused) as error:
            services.import_package(parsed(other_slug))
        assert error.value.message == (
            "The module https://id.lms-service.org/modules/sample-compressed-air has the slug "
            "'sample-compressed-air', not 'renamed-module'. A module keeps its slug for life.")
        assert count(ModuleVersion) == 1


def test_versions_sort_numerically_and_registrations_keep_theirs(app, tmp_path):
    folders = {}
    for version in ("1.9.0", "1.10.0", "1.2.0"):
        folders[version] = copy_package(SAMPLE, tmp_path / version)
        bump(folders[version], version, quiz_replace=("Värme, en: Heat", f"Värme, en: Heat {version}"))
    with app.app_context():
        started = services.import_package(parsed(folders["1.9.0"]), publish=True).module_version_id
        services.import_package(parsed(folders["1.10.0"]), publish=False)
        services.import_package(parsed(folders["1.2.0"]), publish=True)
        module = services.get_module_by_slug("sample-compressed-air")

        assert [v.version for v in services.list_versions(module)] == ["1.10.0", "1.9.0", "1.2.0"]
        assert services.latest_published_version(module).version == "1.9.0"
        services.set_published(services.get_version(module, "1.10.0"), True)
        assert services.latest_published_version(module).version == "1.10.0"
        # A registration that stored the version id it started with still finds that exact content.
        assert services.get_version_by_id(started).version == "1.9.0"
        diff = services.diff_versions(services.get_version(module, "1.9.0"), services.get_version(module, "1.10.0"))
        assert diff.questions_changed == ["biggest-cost"]
        assert diff.lessons_changed == [] and diff.questions_added == [] and diff.manifest_changed == []


def test_media_is_shared_between_versions(app, tmp_path):
    second = copy_package(SAMPLE, tmp_path / "second")
    bump(second, "1.1.0")
    with app.app_context():
        services.import_package(parsed(SAMPLE))
        services.import_package(parsed(second))

        assert count(MediaBlob) == 1 and count(ModuleVersionMedia) == 2


def test_export_imports_back_unchanged(app):
    with app.app_context():
        services.import_package(parsed(SAMPLE))
        version = services.get_version(services.get_module_by_slug("sample-compressed-air"), "1.0.0")

        data = services.export_version(version)

        report, package = validate_files(read_zip(data))
        assert report.ok, report.messages()
        assert package.sha256 == version.content_sha256 == parsed(SAMPLE).sha256
        assert services.import_package(package).status == "unchanged"
        assert services.export_version(version) == data


def test_line_endings_and_bom_do_not_change_the_content_hash(tmp_path):
    crlf = copy_package(SAMPLE, tmp_path / "crlf")
    manifest = crlf / "module.yaml"
    manifest.write_bytes(b"\xef\xbb\xbf" + manifest.read_bytes().replace(b"\n", b"\r\n"))

    assert parsed(crlf).sha256 == parsed(SAMPLE).sha256


def test_catalogue_import_is_all_or_nothing(app, tmp_path):
    clash = copy_package(VALID, tmp_path / "clash")
    bump(clash, "1.0.0", replace=("slug: minimal-module", "slug: sample-compressed-air"))
    with app.app_context():
        services.import_package(parsed(SAMPLE))
        first = copy_package(VALID, tmp_path / "first")

        with pytest.raises(services.ImportRefused):
            services.import_catalogue([parsed(first), parsed(clash)])

        assert services.get_module_by_slug("minimal-module") is None
        assert count(Module) == 1


def test_render_lesson_for_a_learner(app):
    with app.app_context():
        services.import_package(parsed(SAMPLE))
        version = services.get_version(services.get_module_by_slug("sample-compressed-air"), "1.0.0")
        sha = version.media[0].blob.sha256
        with app.test_request_context("/", headers={"Accept-Language": "en"}):
            html = str(services.render_lesson(version, "why-leaks", "sv"))

        assert f'<img src="/media/modules/{sha}.svg" alt="En tryckluftsslang med en koppling' in html
        assert '<a class="citation" href="#ref-example-handbook" rel="noopener noreferrer">[1]</a>' in html
        assert "<h2>Läckor syns inte men hörs</h2>" in html
