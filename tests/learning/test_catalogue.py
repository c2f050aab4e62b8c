"""The catalogue by learning path with filters and search; the module page."""
from __future__ import annotations

import re

import pytest


def _slugs(page: str) -> list[str]:
    return re.findall(r'href="/modules/([a-z0-9-]+)"', page)


@pytest.fixture
def english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def test_catalogue_groups_modules_by_learning_path(catalogue, english):
    page = english.get("/modules/").get_data(as_text=True)
    assert len(_slugs(page)) == 10
    for path in ("Resource efficiency", "Fossil-free and electrification"):
        assert f">{path}</h2>" in page
    # Modules appear under their path, in path order of the page.
    resource = page.index(">Resource efficiency</h2>")
    assert page.index("/modules/a1-energy-mapping") > resource
    assert "Certificate when every module of the path is passed: Resource-efficient production" in page


def test_filters_and_search(catalogue, english):
    page = english.get("/modules/?path=resource-efficiency").get_data(as_text=True)
    by_path = _slugs(page)
    # The folded filters stay open while one of them is in use, and closed otherwise.
    assert '<details class="more-filters" open>' in page
    assert '<details class="more-filters">' in english.get("/modules/?q=energy").get_data(as_text=True)
    assert by_path == ["a1-energy-mapping", "a2-iso-14001-50001", "a3-circular-remanufacturing"]
    assert _slugs(english.get("/modules/?q=compressed-air+leaks").get_data(as_text=True)) == ["a1-energy-mapping"]
    # Search reads both languages: a Swedish word finds the module from an English page too.
    assert "a1-energy-mapping" in _slugs(english.get("/modules/?q=tryckluftsläckage").get_data(as_text=True))
    assert _slugs(english.get("/modules/?lang=en").get_data(as_text=True)) != []
    short = english.get("/modules/?duration=short").get_data(as_text=True)
    long_ = english.get("/modules/?duration=long").get_data(as_text=True)
    medium = english.get("/modules/?duration=medium").get_data(as_text=True)
    assert len(_slugs(short)) + len(_slugs(medium)) + len(_slugs(long_)) == 10
    nothing = english.get("/modules/?q=zzzz-no-such-thing")
    assert nothing.status_code == 200 and "No module matches" in nothing.get_data(as_text=True)


def test_bad_filter_values_are_named_and_ignored(catalogue, english):
    response = english.get("/modules/?lang=xx&duration=forever&path=nope&q=" + "a" * 150)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'class="error-summary"' in page and "Not a valid choice" in page
    assert "at most 100 characters" in page
    assert len(_slugs(page)) == 10  # the bad filters are not applied


def test_module_page_shows_objectives_duration_and_certificate(catalogue, english):
    page = english.get("/modules/a1-energy-mapping").get_data(as_text=True)
    assert "About 23 minutes" in page
    assert "Describe what an energy audit must contain" in page
    assert "Resource-efficient production" in page and "What completing it gives" in page
    assert "At least 80 % right in the quiz" in page
    assert "Log in to start" in page


def test_unknown_and_unpublished_modules_are_not_found(app, runner, english, tmp_path):
    from .conftest import SAMPLE

    assert english.get("/modules/no-such-module").status_code == 404
    result = runner.invoke(args=["modules", "import", "--draft", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    assert english.get("/modules/sample-compressed-air").status_code == 404
    assert "sample-compressed-air" not in english.get("/modules/").get_data(as_text=True)


def test_enrolment_needs_a_login(sample, client):
    response = client.post("/modules/sample-compressed-air/enrol")
    # CSRF protection answers first for a form without a token; with one, the login is asked for.
    assert response.status_code in (302, 400)


def test_catalogue_lists_all_ten_modules_in_both_languages(catalogue, client):
    from html import escape
    from pathlib import Path

    from lms_service.packages.package import catalogue_packages, validate_package

    modules = [validate_package(path)[1] for path in
               catalogue_packages(Path(__file__).resolve().parents[2] / "modules")]
    for language in ("sv", "en"):
        page = client.get("/modules/", headers={"Accept-Language": language}).get_data(as_text=True)
        assert f'<html lang="{language}">' in page
        assert len(set(_slugs(page))) == 10
        for module in modules:
            assert escape(module.manifest["title"][language], quote=False) in page, module.slug
