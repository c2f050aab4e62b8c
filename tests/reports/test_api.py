"""The reporting API: tokens, every permission boundary, filters, pagination, bad input, the OpenAPI document."""
from __future__ import annotations

import datetime as dt

import pytest

from lms_service.extensions import db
from lms_service.reports import sharing
from lms_service.reports.models import ApiToken
from lms_service.reports.tokens import create_token


@pytest.fixture
def token(app, world):
    """``token(scopes, org)`` → the text of a new token (org None: global)."""

    def factory(scopes="reports:aggregates reports:learners", org=None, valid_days=None):
        with app.app_context():
            _row, text = create_token("test", scopes, org, valid_days=valid_days)
            db.session.remove()
            return text

    return factory


def get(client, url, text=None):
    headers = {"Authorization": f"Bearer {text}"} if text else {}
    return client.get(url, headers={**headers, "Accept-Language": "en"})


def share(app, org_id, shared=True):
    with app.app_context():
        sharing.set_shared(org_id, shared, None)
        db.session.remove()


# ---------------------------------------------------------------- authentication


@pytest.mark.parametrize("url", ["/api/reports/progress", "/api/reports/aggregates/county",
                                 "/api/reports/companies/1", "/api/reports/certificates",
                                 "/api/reports/completions?colour=red"])
def test_no_token_is_401_naming_the_scheme(world, client, url):
    response = get(client, url)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Bearer" in response.json["error"]["message"]
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("header", ["Bearer lmsr_unknown", "Bearer ", "Basic dXNlcjpwYXNz", "lmsr_x", "Bearer " + "x" * 5000])
def test_unknown_tokens_are_401(world, client, header):
    response = client.get("/api/reports/progress", headers={"Authorization": header})
    assert response.status_code == 401


def test_revoked_and_expired_tokens_are_401(app, world, client, token):
    text = token(org=world.org_a)
    assert get(client, "/api/reports/progress", text).status_code == 200
    with app.app_context():
        row = db.session.query(ApiToken).one()
        row.revoked_at = dt.datetime.now(dt.UTC)
        db.session.commit()
    assert get(client, "/api/reports/progress", text).status_code == 401
    expired = token(org=world.org_a, valid_days=1)
    with app.app_context():
        row = db.session.query(ApiToken).filter(ApiToken.revoked_at.is_(None)).one()
        row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        db.session.commit()
    assert get(client, "/api/reports/progress", expired).status_code == 401


def test_only_the_hash_of_a_token_is_stored(app, world, token):
    text = token()
    with app.app_context():
        row = db.session.query(ApiToken).one()
        assert text not in (row.token_hash, row.prefix) and text.startswith(row.prefix)


def test_a_signed_in_coordinator_may_use_the_api_in_the_browser(world, client, auth):
    auth.login("coord@example.se")
    assert client.get("/api/reports/aggregates/county").status_code == 200
    auth.logout()
    auth.login("learner@example.se")
    assert client.get("/api/reports/aggregates/county").status_code == 401


# ---------------------------------------------------------------- a company's token


def test_company_token_sees_its_own_learners_only(world, client, token):
    text = token(org=world.org_a)
    body = get(client, "/api/reports/progress?page_size=500", text).json
    assert body["total"] == 7 and {item["learner"]["company"] for item in body["items"]} == {world.org_a}
    assert {item["learner"]["id"] for item in body["items"]} == set(world.learners_a)
    assert get(client, f"/api/reports/progress?company={world.org_a}", text).json["total"] == 7
    assert get(client, f"/api/reports/progress?company={world.org_b}", text).status_code == 403
    assert get(client, f"/api/reports/certificates?company={world.org_b}", text).status_code == 403
    certificates = get(client, "/api/reports/certificates", text).json
    assert certificates["total"] >= 6 and {i["learner"]["company"] for i in certificates["items"]} == {world.org_a}


def test_company_token_sees_its_company_figures_but_not_another_or_the_programme(world, client, token):
    text = token("reports:aggregates", org=world.org_a)
    body = get(client, f"/api/reports/companies/{world.org_a}", text).json
    a1 = next(m for m in body["modules"] if m["key"] == "a1-energy")
    assert (a1["enrolled"], a1["passed"], a1["in_progress"]) == (6, 5, 1)
    assert a1["average_score"] == pytest.approx(0.8)
    assert get(client, f"/api/reports/companies/{world.org_b}", text).status_code == 403
    assert get(client, "/api/reports/aggregates/county", text).status_code == 403


def test_aggregates_scope_gives_no_individual_rows(world, client, token):
    text = token("reports:aggregates", org=world.org_a)
    for url in ("/api/reports/progress", "/api/reports/completions", "/api/reports/certificates"):
        assert get(client, url, text).status_code == 403


# ---------------------------------------------------------------- a global token


def test_global_token_sees_aggregates_with_small_counts_hidden(world, client, token):
    text = token("reports:aggregates")
    body = get(client, "/api/reports/aggregates/county", text).json
    county = {item["key"]: item for item in body["items"]}
    assert body["min_count"] == 5
    assert county["01"]["learners"] == 6 and county["01"]["suppressed"] == ["companies"]
    assert county["14"]["learners"] is None and "learners" in county["14"]["suppressed"]
    companies = get(client, "/api/reports/aggregates/company", text).json["items"]
    assert {item["label"] for item in companies} == {"Komponent AB", "Kod & Kablar AB"}
    assert get(client, f"/api/reports/companies/{world.org_b}", text).status_code == 200


def test_global_token_sees_individuals_only_of_companies_that_share(app, world, client, token):
    text = token()
    assert get(client, "/api/reports/progress", text).status_code == 403
    assert get(client, f"/api/reports/progress?company={world.org_a}", text).status_code == 403
    share(app, world.org_b)
    body = get(client, "/api/reports/progress", text).json
    assert {item["learner"]["company"] for item in body["items"]} == {world.org_b}
    assert get(client, f"/api/reports/progress?company={world.org_a}", text).status_code == 403
    share(app, world.org_b, False)
    assert get(client, "/api/reports/progress", text).status_code == 403


# ---------------------------------------------------------------- filters and pagination


def test_filters_and_pages(world, client, token):
    text = token(org=world.org_a)
    assert get(client, "/api/reports/progress?module=a2-iso", text).json["total"] == 1
    assert get(client, "/api/reports/progress?status=passed", text).json["total"] == 6
    assert get(client, "/api/reports/progress?from=2099-01-01", text).json["total"] == 0
    completions = get(client, "/api/reports/completions", text).json
    assert completions["total"] == 6 and all(i["status"] in ("completed", "passed") for i in completions["items"])
    first = get(client, "/api/reports/progress?page_size=3", text).json
    second = get(client, "/api/reports/progress?page_size=3&page=2", text).json
    assert (first["pages"], first["total"], len(first["items"]), len(second["items"])) == (3, 7, 3, 3)
    assert not {i["registration"] for i in first["items"]} & {i["registration"] for i in second["items"]}
    beyond = get(client, "/api/reports/progress?page_size=3&page=4", text)
    assert beyond.status_code == 404 and "beyond the last page" in beyond.json["error"]["message"]
    # Page 1 of nothing is an empty page, not an error.
    assert get(client, "/api/reports/progress?from=2099-01-01", text).json["items"] == []


@pytest.mark.parametrize(("query", "field"), [
    ("colour=red", "colour"), ("from=2026-13-01", "from"), ("to=yesterday", "to"),
    ("from=2026-05-02&to=2026-05-01", "from"), ("module=no-such-module", "module"), ("path=nope", "path"),
    ("page=0", "page"), ("page=x", "page"), ("page_size=501", "page_size"), ("status=done", "status"),
    ("company=0", "company"), ("company=99999999999", "company"),
])
def test_bad_arguments_are_422_naming_the_argument(world, client, token, query, field):
    response = get(client, f"/api/reports/progress?{query}", token(org=world.org_a))
    assert response.status_code == 422
    assert field in response.json["error"]["errors"]["query"]


def test_unknown_company_is_404_and_unknown_dimension_404(world, client, token):
    text = token()
    assert get(client, "/api/reports/companies/99999", text).status_code == 404
    assert get(client, "/api/reports/progress?company=99999", text).status_code == 404
    assert get(client, "/api/reports/aggregates/planet", text).status_code == 404


def test_api_refuses_writes(world, client, token):
    response = client.post("/api/reports/progress", headers={"Authorization": f"Bearer {token()}"})
    assert response.status_code == 405


# ---------------------------------------------------------------- the documents


def test_openapi_document_lists_every_endpoint(client):
    spec = client.get("/api/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert {"/api/reports/progress", "/api/reports/completions", "/api/reports/certificates",
            "/api/reports/aggregates/{dimension}", "/api/reports/companies/{org_id}"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    progress = spec["paths"]["/api/reports/progress"]["get"]
    assert {"401", "403", "404", "422"} <= set(progress["responses"])


def test_browsable_documentation(client):
    response = client.get("/api/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    text = response.get_data(as_text=True)
    assert "GET /api/reports/progress" in text and "page_size" in text and "ProgressRow" in text
    assert "<script" not in text and "style=" not in text


@pytest.mark.parametrize("query", ["to=9999-12-31", "from=0001-01-01", "module=%00", "path=a%00b", "page=%C2%B2",
                                   "page=%E2%91%A0", "from=2026-01-01&from=2026-02-01"])
def test_odd_input_is_a_4xx_never_a_500(world, client, token, auth, query):
    text = token()
    for url in ("/api/reports/progress", "/api/reports/aggregates/county", f"/api/reports/companies/{world.org_a}"):
        status = get(client, f"{url}?{query}", text).status_code
        # A repeated argument counts once (the first); everything else here is refused.
        assert status in ((200, 403) if "&" in query else (403, 422)), (url, query, status)
    auth.login("root@example.se")
    for url in ("/reports/programme", "/reports/learners.csv", "/reports/programme/county.xlsx",
                f"/reports/company/{world.org_a}"):
        assert client.get(f"{url}?{query}").status_code in (200, 400), (url, query)


def test_a_refused_token_names_the_error(world, client):
    response = get(client, "/api/reports/progress", "lmsr_unknown")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert "error=" not in get(client, "/api/reports/progress").headers["WWW-Authenticate"]


def test_programme_readers_get_no_average_of_a_handful(world, client, token):
    """A company that does not share: its averages over fewer than REPORTS_MIN_COUNT learners are withheld."""
    body = get(client, f"/api/reports/companies/{world.org_a}", token("reports:aggregates")).json
    modules = {m["key"]: m for m in body["modules"]}
    assert modules["a1-energy"]["average_score"] == pytest.approx(0.8)  # six learners
    assert modules["a2-iso"]["enrolled"] == 1 and modules["a2-iso"]["average_score"] is None
    own = get(client, f"/api/reports/companies/{world.org_a}", token(org=world.org_a)).json
    assert {m["key"]: m for m in own["modules"]}["a2-iso"]["average_score"] == 1.0
