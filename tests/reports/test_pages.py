"""Sharing with the programme, API token pages, XLSX exports and the learners export, through the pages."""
from __future__ import annotations

import io
import re

import openpyxl
import pytest

from lms_service.extensions import db
from lms_service.reports.models import ApiToken, CoordinatorGrant
from tests.conftest import csrf_token


def workbook_rows(response) -> list[tuple]:
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = openpyxl.load_workbook(io.BytesIO(response.get_data())).active
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


# ---------------------------------------------------------------- sharing with the programme


def test_company_admin_shares_and_withdraws_individual_progress(app, world, client, auth):
    auth.login("coord@example.se")
    assert client.get(f"/reports/company/{world.org_a}/employees.csv").status_code == 403
    assert "Employee A0" not in client.get(f"/reports/company/{world.org_a}").get_data(as_text=True)
    assert client.get("/reports/learners.csv").status_code == 403
    auth.logout()

    auth.login("admin-a@example.se")
    token = csrf_token(client, f"/reports/company/{world.org_a}")
    response = client.post(f"/reports/company/{world.org_a}/sharing", data={"csrf_token": token, "share": "yes"})
    assert response.status_code == 302
    auth.logout()

    auth.login("coord@example.se")
    assert "Employee A0" in client.get(f"/reports/company/{world.org_a}").get_data(as_text=True)
    assert client.get(f"/reports/company/{world.org_a}/employees.csv").status_code == 200
    # Company B did not share: its employees stay hidden, in the page, the export and the learners export.
    assert client.get(f"/reports/company/{world.org_b}/employees.csv").status_code == 403
    text = client.get("/reports/learners.csv").get_data(as_text=True)
    assert "a0@example.se" in text and "b0@example.se" not in text
    auth.logout()

    auth.login("admin-a@example.se")
    token = csrf_token(client, f"/reports/company/{world.org_a}")
    client.post(f"/reports/company/{world.org_a}/sharing", data={"csrf_token": token, "share": "no"})
    auth.logout()
    auth.login("coord@example.se")
    assert client.get(f"/reports/company/{world.org_a}/employees.csv").status_code == 403


def test_sharing_needs_the_company_admin_csrf_and_a_clear_choice(app, world, client, auth):
    auth.login("admin-b@example.se")
    token = csrf_token(client, f"/reports/company/{world.org_b}")
    assert client.post(f"/reports/company/{world.org_a}/sharing",
                       data={"csrf_token": token, "share": "yes"}).status_code == 403
    assert client.post(f"/reports/company/{world.org_b}/sharing", data={"share": "yes"}).status_code == 400
    assert client.post(f"/reports/company/{world.org_b}/sharing",
                       data={"csrf_token": token, "share": "maybe"}).status_code == 400
    auth.logout()
    auth.login("coord@example.se")
    token = csrf_token(client, "/account")
    assert client.post(f"/reports/company/{world.org_b}/sharing",
                       data={"csrf_token": token, "share": "yes"}).status_code == 403
    with app.app_context():
        assert db.session.query(CoordinatorGrant).count() == 0


# ---------------------------------------------------------------- API tokens on the pages


def test_company_admin_creates_sees_once_and_revokes_a_token(app, world, client, auth):
    auth.login("admin-a@example.se")
    url = f"/reports/company/{world.org_a}/tokens"
    token = csrf_token(client, url)
    response = client.post(url, data={"csrf_token": token, "name": "BI tool", "scopes": ["reports:aggregates"],
                                      "valid_days": "30"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    secret = re.search(r'<code id="new-token">(lmsr_[^<]+)</code>', text).group(1)
    assert client.get(f"/api/reports/companies/{world.org_a}",
                      headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    # Listed afterwards by name and prefix, never in full.
    listing = client.get(url).get_data(as_text=True)
    assert "BI tool" in listing and secret not in listing and secret[:12] in listing
    with app.app_context():
        row = db.session.query(ApiToken).one()
        assert row.organisation_id == world.org_a and row.expires_at is not None
        token_id = row.id
    token = csrf_token(client, url)
    assert client.post(f"{url}/{token_id}/revoke", data={"csrf_token": token}).status_code == 302
    assert client.get(f"/api/reports/companies/{world.org_a}",
                      headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_token_form_errors_are_400_and_create_nothing(app, world, client, auth):
    auth.login("admin-a@example.se")
    url = f"/reports/company/{world.org_a}/tokens"
    token = csrf_token(client, url)
    for data in ({"name": "", "scopes": ["reports:aggregates"]}, {"name": "x", "scopes": []},
                 {"name": "x", "scopes": ["reports:everything"]}, {"name": "x", "scopes": ["reports:learners"],
                                                                  "valid_days": "0"}):
        assert client.post(url, data={"csrf_token": token, **data}).status_code == 400, data
    assert client.post(url, data={"name": "x", "scopes": ["reports:learners"]}).status_code == 400
    with app.app_context():
        assert db.session.query(ApiToken).count() == 0


@pytest.mark.parametrize("who", ["admin-b@example.se", "coord@example.se", "learner@example.se"])
def test_others_cannot_manage_a_company_s_tokens(world, client, auth, who):
    auth.login(who)
    assert client.get(f"/reports/company/{world.org_a}/tokens").status_code == 403
    assert client.get("/reports/tokens").status_code == 403


def test_anonymous_cannot_reach_token_pages(world, client):
    for url in (f"/reports/company/{world.org_a}/tokens", "/reports/tokens"):
        assert client.get(url).status_code == 302


def test_revoking_another_company_s_token_is_404(app, world, client, auth):
    from lms_service.reports.tokens import create_token

    with app.app_context():
        other, _text = create_token("B's", "reports:aggregates", world.org_b)
        other_id = other.id
        db.session.remove()
    auth.login("admin-a@example.se")
    url = f"/reports/company/{world.org_a}/tokens"
    token = csrf_token(client, url)
    assert client.post(f"{url}/{other_id}/revoke", data={"csrf_token": token}).status_code == 404
    with app.app_context():
        assert db.session.get(ApiToken, other_id).revoked_at is None


def test_admin_creates_a_global_token(app, world, client, auth):
    auth.login("root@example.se")
    token = csrf_token(client, "/reports/tokens")
    response = client.post("/reports/tokens", data={"csrf_token": token, "name": "Funder dashboard",
                                                     "scopes": ["reports:aggregates"]})
    assert response.status_code == 200
    with app.app_context():
        assert db.session.query(ApiToken).one().organisation_id is None


def test_token_cli(app, world, runner):
    result = runner.invoke(args=["reports", "tokens", "create", "--name", "OEM LRS", "--scope", "reports:learners",
                                 "--org", "556677-8899"])
    assert result.exit_code == 0, result.output
    assert "lmsr_" in result.output
    listing = runner.invoke(args=["reports", "tokens", "list"]).output
    assert "OEM LRS" in listing and "active" in listing and result.output.strip().splitlines()[-1] not in listing
    bad = runner.invoke(args=["reports", "tokens", "create", "--name", "x", "--scope", "reports:all"])
    assert bad.exit_code != 0 and "reports:all" in bad.output
    bad = runner.invoke(args=["reports", "tokens", "create", "--name", "x", "--scope", "reports:learners",
                              "--org", "999999-9999"])
    assert bad.exit_code != 0 and "999999-9999" in bad.output
    with app.app_context():
        token_id = db.session.query(ApiToken).one().id
    assert runner.invoke(args=["reports", "tokens", "revoke", str(token_id)]).exit_code == 0
    assert "revoked" in runner.invoke(args=["reports", "tokens", "list"]).output
    assert runner.invoke(args=["reports", "tokens", "revoke", "99999"]).exit_code != 0


# ---------------------------------------------------------------- exports


def test_xlsx_exports_have_the_csv_s_rows(world, client, auth):
    auth.login("admin-a@example.se")
    rows = workbook_rows(client.get(f"/reports/company/{world.org_a}/employees.xlsx"))
    assert rows[0][:3] == ("name", "email", "kind")
    assert {row[1] for row in rows[1:]} <= {f"a{i}@example.se" for i in range(6)}
    modules = workbook_rows(client.get(f"/reports/company/{world.org_a}/modules.xlsx?module=a1-energy"))
    assert [row[0] for row in modules[1:]] == ["a1-energy"] and modules[1][3] == 6
    auth.logout()
    auth.login("coord@example.se")
    county = {row[0]: row for row in workbook_rows(client.get("/reports/programme/county.xlsx"))[1:]}
    assert county["01"][3] == 6 and county["14"][3] == "<5"
    assert client.get(f"/reports/company/{world.org_a}/employees.xlsx").status_code == 403


def test_learners_export_follows_the_viewer_s_permissions(world, client, auth):
    auth.login("root@example.se")
    rows = workbook_rows(client.get("/reports/learners.xlsx"))
    assert len(rows) == 1 + 8 and {row[1] for row in rows[1:]} >= {"a0@example.se", "b0@example.se"}
    auth.logout()
    auth.login("admin-a@example.se")
    text = client.get("/reports/learners.csv?module=a1-energy").get_data(as_text=True)
    assert "a0@example.se" in text and "b0@example.se" not in text
    assert client.get("/reports/learners.csv?from=nonsense").status_code == 400
    auth.logout()
    auth.login("learner@example.se")
    assert client.get("/reports/learners.csv").status_code == 403


def test_programme_page_offers_company_figures_and_the_api(world, client, auth):
    auth.login("coord@example.se")
    text = client.get("/reports/programme").get_data(as_text=True)
    assert "/reports/programme/company.csv" in text and "/api/docs" in text
    assert "/reports/learners.csv" not in text  # no company shares with the programme yet
    rows = client.get("/reports/programme/company.csv").get_data(as_text=True)
    assert "Komponent AB" in rows


def test_a_company_admin_who_is_also_coordinator(app, world, client, auth):
    from lms_service.accounts.models import User

    with app.app_context():
        user = db.session.query(User).filter_by(email="admin-b@example.se").one()
        user.grant("coordinator")
        db.session.commit()
    auth.login("admin-b@example.se")
    assert client.get("/reports/programme").status_code == 200
    assert client.get(f"/reports/company/{world.org_a}/employees.csv").status_code == 403
    text = client.get("/reports/learners.csv").get_data(as_text=True)
    assert "b0@example.se" in text and "a0@example.se" not in text


def test_company_admin_gets_no_programme_export_in_either_format(world, client, auth):
    auth.login("admin-a@example.se")
    for fmt in ("csv", "xlsx"):
        assert client.get(f"/reports/programme/county.{fmt}").status_code == 403
        assert client.get(f"/reports/programme/company.{fmt}").status_code == 403


def test_a_learner_moved_in_bulk_is_never_shown_to_the_old_company(app, world, client, auth):
    """A bulk UPDATE of users bypasses the ORM listener; the lists still follow the users table."""
    import sqlalchemy as sa

    from lms_service.accounts.models import User

    with app.app_context():
        db.session.execute(sa.update(User).where(User.id == world.learner_b).values(organisation_id=world.org_a))
        db.session.commit()
    auth.login("admin-b@example.se")
    assert "b0@example.se" not in client.get("/reports/learners.csv").get_data(as_text=True)
    page = client.get(f"/reports/company/{world.org_b}")
    assert page.status_code == 200 and "Employee B0" not in page.get_data(as_text=True)


def test_moving_a_learner_through_the_relationship_moves_their_rows(app, world):
    import sqlalchemy as sa

    from lms_service.accounts.models import User
    from lms_service.orgs.models import Organisation
    from lms_service.reports.models import ReportEnrolment

    with app.app_context():
        user = db.session.get(User, world.learner_b)
        user.organisation = db.session.get(Organisation, world.org_a)
        db.session.commit()
        companies = db.session.execute(sa.select(ReportEnrolment.organisation_id).where(
            ReportEnrolment.user_id == world.learner_b)).scalars().all()
        assert companies == [world.org_a]


def test_xlsx_exports_have_number_cells(world, client, auth):
    auth.login("admin-a@example.se")
    rows = workbook_rows(client.get(f"/reports/company/{world.org_a}/modules.xlsx?module=a1-energy"))
    assert rows[1][7] == 80 and isinstance(rows[1][8], int)
