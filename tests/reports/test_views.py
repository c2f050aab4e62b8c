"""The report pages and exports: every permission boundary, every kind of bad filter, the CSV content."""
from __future__ import annotations

import csv
import io

import pytest


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def company_urls(org_id: int) -> list[str]:
    return [f"/reports/company/{org_id}", f"/reports/company/{org_id}/modules.csv",
            f"/reports/company/{org_id}/paths.csv", f"/reports/company/{org_id}/employees.csv"]


# ---------------------------------------------------------------- who may see what


def test_anonymous_visitors_are_sent_to_log_in(world, client):
    for url in [*company_urls(world.org_a), "/reports/company", "/reports/programme", "/reports/programme/county.csv"]:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_company_admin_sees_own_company_with_employees(world, client, auth):
    auth.login("admin-a@example.se")
    response = client.get("/reports/company")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/reports/company/{world.org_a}")
    page = client.get(f"/reports/company/{world.org_a}").get_data(as_text=True)
    assert "Energy mapping" in page and "Employee A0" in page and "Employee B0" not in page
    assert 'scope="col"' in page and "<caption>" in page and "style=" not in page


@pytest.mark.parametrize("index", range(4))
def test_company_admin_cannot_see_another_company(world, client, auth, index):
    auth.login("admin-a@example.se")
    assert client.get(company_urls(world.org_b)[index]).status_code == 403


@pytest.mark.parametrize("url", ["/reports/programme", "/reports/programme/county.csv"])
def test_company_admin_and_learner_cannot_see_the_programme(world, client, auth, url):
    auth.login("admin-a@example.se")
    assert client.get(url).status_code == 403
    auth.logout()
    auth.login("learner@example.se")
    assert client.get(url).status_code == 403


@pytest.mark.parametrize("index", range(4))
def test_learner_cannot_see_company_reports(world, client, auth, index):
    auth.login("learner@example.se")
    assert client.get(company_urls(world.org_a)[index]).status_code == 403
    assert client.get("/reports/company").status_code == 403


def test_coordinator_sees_company_figures_but_no_individual(world, client, auth):
    auth.login("coord@example.se")
    page = client.get(f"/reports/company/{world.org_a}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Energy mapping" in text and "Employee A0" not in text and "a0@example.se" not in text
    rows = csv_rows(client.get(f"/reports/company/{world.org_a}/modules.csv"))
    assert rows[0][:4] == ["key", "title", "assigned", "enrolled"]
    assert client.get(f"/reports/company/{world.org_a}/employees.csv").status_code == 403
    # A coordinator has no company of their own.
    assert client.get("/reports/company").status_code == 403


def test_admin_sees_any_company_with_employees(world, client, auth):
    auth.login("root@example.se")
    text = client.get(f"/reports/company/{world.org_b}").get_data(as_text=True)
    assert "Employee B0" in text and "Employee A0" not in text
    rows = csv_rows(client.get(f"/reports/company/{world.org_b}/employees.csv"))
    # B0 passed a1, and so has started the path a1 belongs to.
    assert sorted((row[0], row[3], row[5]) for row in rows[1:]) == [
        ("Employee B0", "a1-energy", "passed"), ("Employee B0", "resource-efficiency", "in_progress")]
    assert client.get("/reports/programme").status_code == 200


def test_unknown_company_is_404(world, client, auth):
    auth.login("root@example.se")
    for url in company_urls(99999) + company_urls(2**63) + company_urls(0):
        assert client.get(url).status_code == 404, url


def test_my_company_redirect_keeps_only_validated_filters(world, client, auth):
    auth.login("admin-a@example.se")
    response = client.get("/reports/company?module=a1-energy")
    assert response.headers["Location"].endswith(f"/reports/company/{world.org_a}?module=a1-energy")
    assert client.get("/reports/company?org_id=2").status_code == 400
    assert client.get("/reports/company?_external=1").status_code == 400


# ---------------------------------------------------------------- filters


@pytest.mark.parametrize("query", ["from=2026-02-30", "to=nope", "colour=red", "module=no-such",
                                   "path=no-such", "page=abc", "from=2026-05-02&to=2026-05-01"])
def test_bad_filters_are_400_on_pages_and_exports(world, client, auth, query):
    auth.login("admin-a@example.se")
    for url in company_urls(world.org_a):
        response = client.get(f"{url}?{query}")
        assert response.status_code == 400, (url, query)
    auth.logout()
    auth.login("coord@example.se")
    for url in ("/reports/programme", "/reports/programme/month.csv"):
        assert client.get(f"{url}?{query}").status_code == 400, (url, query)


def test_bad_filter_message_names_the_problem(world, client, auth):
    auth.login("admin-a@example.se")
    text = client.get(f"/reports/company/{world.org_a}?from=2026-02-30").get_data(as_text=True)
    assert "from must be a date written YYYY-MM-DD" in text


def test_page_beyond_the_end_is_404(world, client, auth):
    auth.login("admin-a@example.se")
    assert client.get(f"/reports/company/{world.org_a}?page=1").status_code == 200
    assert client.get(f"/reports/company/{world.org_a}?page=2").status_code == 404
    auth.logout()
    auth.login("coord@example.se")
    assert client.get("/reports/programme?page=2").status_code == 404


def test_filters_apply_to_exports(world, client, auth):
    auth.login("admin-a@example.se")
    rows = csv_rows(client.get(f"/reports/company/{world.org_a}/modules.csv?module=a2-iso"))
    assert [row[0] for row in rows[1:]] == ["a2-iso"]
    rows = csv_rows(client.get(f"/reports/company/{world.org_a}/employees.csv?from=2099-01-01"))
    assert rows[1:] == []


# ---------------------------------------------------------------- CSV content


def test_employee_export_lists_status_due_dates_and_certificates(world, client, auth):
    auth.login("admin-a@example.se")
    rows = csv_rows(client.get(f"/reports/company/{world.org_a}/employees.csv"))
    header, body = rows[0], rows[1:]
    assert header == ["name", "email", "kind", "key", "title", "status", "due_date", "overdue", "certificate",
                      "certificate_valid_until"]
    records = [dict(zip(header, row, strict=True)) for row in body]
    overdue = [r for r in records if r["overdue"] == "yes"]
    assert [(r["email"], r["key"], r["status"]) for r in overdue] == [("a5@example.se", "a2-iso", "not_started")]
    a0 = {r["key"]: r for r in records if r["email"] == "a0@example.se"}
    assert a0["a1-energy"]["status"] == "passed" and a0["a1-energy"]["certificate"] == "valid"
    assert a0["resource-efficiency"]["status"] == "passed"
    assert not any(r["email"] == "b0@example.se" for r in records)


def test_csv_cells_cannot_run_as_formulas(world, client, auth, app):
    from lms_service.accounts.models import User
    from lms_service.extensions import db

    with app.app_context():
        user = db.session.get(User, world.learners_a[1])
        user.display_name = "=HYPERLINK(\"http://evil\")"
        db.session.commit()
        db.session.remove()
    auth.login("admin-a@example.se")
    rows = csv_rows(client.get(f"/reports/company/{world.org_a}/employees.csv"))
    names = {row[0] for row in rows[1:]}
    assert "'=HYPERLINK(\"http://evil\")" in names and not any(n.startswith("=") for n in names)


# ---------------------------------------------------------------- the programme dashboard


def test_programme_dashboard_has_charts_with_tables_and_hides_small_counts(world, client, auth):
    auth.login("coord@example.se")
    response = client.get("/reports/programme")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    # A trend chart over time, then a chart beside a table for each dimension.
    assert text.count("<svg") == 5 and text.count("<caption>") == 4
    assert 'role="img"' in text and "<title id=" in text and "<desc id=" in text
    assert "style=" not in text and "<script" not in text
    assert "Stockholm County" in text and "Västra Götaland County" in text
    # No name or e-mail of a learner is on the programme page.
    assert "Employee A0" not in text and "a0@example.se" not in text
    rows = csv_rows(client.get("/reports/programme/county.csv"))
    county = {row[0]: row for row in rows[1:]}
    assert county["01"][3] == "6" and county["14"][3] == "<5" and county["14"][2] == "<5"


def test_period_filter_on_the_page(world, client, auth):
    auth.login("admin-a@example.se")
    text = client.get(f"/reports/company/{world.org_a}?from=2099-01-01").get_data(as_text=True)
    assert "Employee A0" not in text
    assert "No employee is enrolled in or assigned to anything that matches the filters." in text
    assert 'value="2099-01-01"' in text  # the form shows the filter in force


def test_coordinator_page_beyond_the_end_is_404(world, client, auth):
    auth.login("coord@example.se")
    assert client.get(f"/reports/company/{world.org_a}?page=2").status_code == 404
