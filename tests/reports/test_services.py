"""The figures and the filter validation, at the service level."""
from __future__ import annotations

import datetime as dt

import pytest

from lms_service.errors import UserError
from lms_service.reports import services


def by_key(stats):
    return {row.subject.key: row for row in stats}


def test_company_module_and_path_figures(world, ctx):
    modules, paths = services.company_subject_stats(world.org_a, services.Filters())
    a1, a2 = by_key(modules)["a1-energy"], by_key(modules)["a2-iso"]
    assert (a1.assigned, a1.enrolled, a1.in_progress, a1.completed, a1.passed) == (0, 6, 1, 5, 5)
    assert a1.average_score == pytest.approx(0.8)
    # pass_module starts ten minutes before the pass and completes one second before it.
    assert a1.median_minutes == pytest.approx(10 - 1 / 60, abs=0.01)
    assert (a2.assigned, a2.enrolled, a2.passed) == (1, 1, 1)
    path = by_key(paths)["resource-efficiency"]
    # Six learners started the path (they have a module of it); one has passed every module.
    assert (path.enrolled, path.passed, path.in_progress) == (6, 1, 5)


def test_company_figures_never_include_another_company(world, ctx):
    modules, _paths = services.company_subject_stats(world.org_b, services.Filters())
    a1 = by_key(modules)["a1-energy"]
    assert (a1.enrolled, a1.passed) == (1, 1)
    assert a1.average_score == pytest.approx(0.9)


def test_period_and_module_filters(world, ctx):
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    modules, _paths = services.company_subject_stats(world.org_a, services.Filters(start=tomorrow))
    assert all(row.enrolled == 0 for row in modules)
    modules, paths = services.company_subject_stats(world.org_a, services.Filters(module="a2-iso"))
    assert [row.subject.key for row in modules] == ["a2-iso"]
    assert [row.subject.key for row in paths] == ["resource-efficiency"]


def test_employee_rows_show_status_due_dates_overdue_and_certificates(world, ctx):
    rows = services.employee_rows(world.org_a, services.Filters(), dt.datetime.now(dt.UTC))
    overdue = [r for r in rows if r.overdue]
    assert [(r.user_id, r.subject.key) for r in overdue] == [(world.overdue_user, "a2-iso")]
    assert overdue[0].status == "not_started"
    passed = [r for r in rows if r.user_id == world.learners_a[0] and r.subject.key == "a1-energy"]
    assert passed[0].status == "passed" and passed[0].certificate_status == "valid"
    assert {r.user_id for r in rows} <= set(world.learners_a)


@pytest.mark.parametrize(("args", "message"), [
    ({"colour": "red"}, "Unknown filter: colour"),
    ({"from": "2026-13-01"}, "from must be a date"),
    ({"to": "yesterday"}, "to must be a date"),
    ({"from": "2026-05-02", "to": "2026-05-01"}, "starts after it ends"),
    ({"module": "no-such-module"}, "There is no module no-such-module"),
    ({"path": "no-such-path"}, "There is no learning path no-such-path"),
    ({"page": "0"}, "page must be a whole number"),
    ({"page": "-1"}, "page must be a whole number"),
    ({"page": "x"}, "page must be a whole number"),
])
def test_bad_filters_are_refused_with_a_clear_message(world, ctx, args, message):
    with pytest.raises(UserError, match=message):
        services.parse_filters(args)


def test_good_filters_parse(world, ctx):
    filters = services.parse_filters({"from": "2026-01-01", "to": "2026-12-31", "module": "a1-energy", "page": "2"})
    assert filters == services.Filters(dt.date(2026, 1, 1), dt.date(2026, 12, 31), "a1-energy", None, 2)
    assert filters.query_args() == {"from": "2026-01-01", "to": "2026-12-31", "module": "a1-energy"}


def test_employee_pages_are_slices_of_the_whole_table(world, ctx):
    now = dt.datetime.now(dt.UTC)
    everything = services.employee_rows(world.org_a, services.Filters(), now)
    assert len(everything) > 5
    pages = [services.employee_page(world.org_a, services.Filters(page=number), now, size=5)
             for number in range(1, -(-len(everything) // 5) + 1)]
    assert [row for page in pages for row in page.rows] == everything
    assert {page.total for page in pages} == {len(everything)} and pages[-1].pages == len(pages)
    assert services.employee_page(world.org_a, services.Filters(page=len(pages) + 1), now, size=5) is None
    empty = services.employee_page(world.org_a, services.Filters(start=dt.date(2099, 1, 1)), now)
    assert (empty.rows, empty.pages, empty.total) == ([], 1, 0)


def test_programme_figures_suppress_small_counts(world, ctx):
    figures = services.programme_figures(services.Filters(), "en")
    county = {row.key: row for row in figures["county"]}
    assert county["01"].learners == 6 and county["01"].completions == 6
    # Company B has a single learner in county 14: every count of it is hidden.
    assert county["14"].learners is None and county["14"].companies is None
    kind = {row.key: row for row in figures["kind"]}
    assert kind["it_firm"].label == "IT firm" and kind["it_firm"].learners is None
    module = {row.key: row for row in figures["module"]}
    assert module["a1-energy"].learners == 7 and module["a1-energy"].companies is None  # two companies
    assert services.suppress(0, 5) == 0 and services.suppress(4, 5) is None and services.suppress(5, 5) == 5


def test_min_count_is_configurable(world, make_app):
    app = make_app(REPORTS_MIN_COUNT=1)
    with app.app_context():
        figures = services.programme_figures(services.Filters(), "en")
        county = {row.key: row for row in figures["county"]}
        assert county["14"].learners == 1


@pytest.mark.parametrize("value", [0, -3, "five"])
def test_min_count_setting_must_be_a_positive_whole_number(make_app, value):
    from lms_service.config import ConfigError

    with pytest.raises(ConfigError, match="REPORTS_MIN_COUNT"):
        make_app(REPORTS_MIN_COUNT=value)


def test_min_count_from_the_environment(make_app, monkeypatch):
    from lms_service.config import ConfigError

    monkeypatch.setenv("REPORTS_MIN_COUNT", "3")
    assert make_app().config["REPORTS_MIN_COUNT"] == 3
    monkeypatch.setenv("REPORTS_MIN_COUNT", "lots")
    with pytest.raises(ConfigError, match="REPORTS_MIN_COUNT must be a whole number"):
        make_app()
