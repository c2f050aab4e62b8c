import re

import sqlalchemy as sa

from lms_service.accounts.models import User
from lms_service.extensions import db
from lms_service.orgs.models import Invitation, JoinRequest, Organisation
from tests.conftest import PASSWORD, csrf_token, last_mail_text


def org_count(app):
    with app.app_context():
        return db.session.execute(sa.select(sa.func.count(Organisation.id))).scalar()


def test_cli_creates_and_lists_organisations(app, runner):
    result = runner.invoke(args=["orgs", "create", "--name", "Pressverk AB", "--org-number", "5566778899",
                                 "--county", "01", "--kind", "vehicle_supplier"])
    assert result.exit_code == 0, result.output
    assert "556677-8899" in runner.invoke(args=["orgs", "list"]).output
    result = runner.invoke(args=["orgs", "create", "--name", "Other AB", "--org-number", "556677-8899",
                                 "--county", "01"])
    assert result.exit_code == 1 and "already registered" in result.output
    result = runner.invoke(args=["orgs", "create", "--name", "Typo AB", "--org-number", "556677-8898",
                                 "--county", "01"])
    assert result.exit_code == 1 and "check digit" in result.output
    result = runner.invoke(args=["orgs", "create", "--name", "X AB", "--org-number", "556677-8899",
                                 "--county", "99"])
    assert result.exit_code == 2 and "county" in result.output.lower()
    assert org_count(app) == 1


def test_admin_registers_a_company_and_wrong_number_changes_nothing(app, client, auth, create_user):
    create_user(email="admin@lms.se", roles=("admin",), language="en")
    auth.login("admin@lms.se")
    token = csrf_token(client, "/companies/new")
    bad = client.post("/companies/new", data={"csrf_token": token, "name": "Svets AB", "org_number": "556677-8898",
                                              "county": "14", "kind": "vehicle_supplier"})
    assert bad.status_code == 400
    assert "check digit does not match" in bad.get_data(as_text=True)
    assert org_count(app) == 0
    good = client.post("/companies/new", data={"csrf_token": token, "name": "Svets AB", "org_number": "556677-8899",
                                               "county": "14", "kind": "vehicle_supplier"})
    assert good.status_code == 302
    with app.app_context():
        org = db.session.execute(sa.select(Organisation)).scalar_one()
        assert (org.name, org.org_number, org.county, org.kind) == ("Svets AB", "556677-8899", "14",
                                                                     "vehicle_supplier")
    page = client.get("/companies/").get_data(as_text=True)
    assert "Västra Götaland County" in page and "Vehicle industry supplier" in page


def test_only_admins_register_and_only_admins_and_coordinators_list(client, auth, create_user, create_org):
    org = create_org()
    create_user(email="orgadmin@lms.se", roles=("org_admin",), organisation=org)
    create_user(email="coord@lms.se", roles=("coordinator",))
    auth.login("orgadmin@lms.se")
    assert client.get("/companies/").status_code == 403
    assert client.get("/companies/new").status_code == 403
    auth.logout()
    auth.login("coord@lms.se")
    assert client.get("/companies/").status_code == 200
    assert client.get("/companies/new").status_code == 403


def test_org_admin_manages_only_their_own_company(client, auth, create_user, create_org):
    mine, theirs = create_org(name="Mine AB"), create_org(name="Theirs AB")
    create_user(email="orgadmin@lms.se", roles=("org_admin",), organisation=mine)
    auth.login("orgadmin@lms.se")
    assert client.get(f"/companies/{mine}").status_code == 200
    assert client.get(f"/companies/{theirs}").status_code == 403
    token = csrf_token(client, f"/companies/{mine}")
    assert client.post(f"/companies/{theirs}/invitations", data={"csrf_token": token}).status_code == 403
    assert client.get("/companies/999").status_code == 404
    assert client.get("/my-company").headers["Location"].endswith(f"/companies/{mine}")


def test_invitation_link_lets_a_colleague_sign_up_into_the_company(app, client, auth, create_user, create_org):
    org = create_org(name="Montering AB")
    create_user(email="orgadmin@lms.se", roles=("org_admin",), organisation=org)
    auth.login("orgadmin@lms.se")
    response = client.post(f"/companies/{org}/invitations", data={"csrf_token": csrf_token(client, f"/companies/{org}")})
    assert response.status_code == 200
    link = re.search(r'value="http://localhost(/companies/invitation/[^"]+)"', response.get_data(as_text=True)).group(1)
    auth.logout()

    assert client.get(link).headers["Location"].startswith("/signup?invitation=")
    token = link.rsplit("/", 1)[1]
    signup_url = f"/signup?invitation={token}"
    response = client.post("/signup", data={
        "csrf_token": csrf_token(client, signup_url), "invitation": token, "display_name": "Nils Ny",
        "email": "nils@montering.se", "password": PASSWORD, "password_again": PASSWORD, "language": "en"})
    assert response.status_code == 302
    with app.app_context():
        nils = db.session.execute(sa.select(User).where(User.email == "nils@montering.se")).scalar_one()
        assert nils.organisation_id == org
        assert db.session.execute(sa.select(Invitation)).scalar_one().accepted_by_id == nils.id
    # Single use.
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    response = client.get(link, headers={"Accept-Language": "en"})
    assert response.status_code == 410 and "already been used" in response.get_data(as_text=True)


def test_email_invitation_is_mailed_and_bound_to_that_address(app, client, auth, create_user, create_org):
    org = create_org(name="Logistik AB")
    create_user(email="orgadmin@lms.se", roles=("org_admin",), organisation=org, language="en")
    create_user(email="other@lms.se")
    auth.login("orgadmin@lms.se")
    response = client.post(f"/companies/{org}/invitations", data={
        "csrf_token": csrf_token(client, f"/companies/{org}"), "email": "kim@logistik.se"})
    assert response.status_code == 302
    mail = last_mail_text(app)
    assert "To: kim@logistik.se" in mail and "Logistik AB" in mail
    link = re.search(r"http://localhost(/companies/invitation/\S+)", mail).group(1)
    auth.logout()
    auth.login("other@lms.se")
    response = client.post(link, data={"csrf_token": csrf_token(client, link)}, headers={"Accept-Language": "en"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.execute(sa.select(User).where(User.email == "other@lms.se")).scalar_one().organisation_id is None
        assert db.session.execute(sa.select(Invitation)).scalar_one().accepted_at is None


def test_invitation_with_malformed_email_is_refused(app, client, auth, create_user, create_org):
    org = create_org()
    create_user(email="orgadmin@lms.se", roles=("org_admin",), organisation=org, language="en")
    auth.login("orgadmin@lms.se")
    response = client.post(f"/companies/{org}/invitations", data={
        "csrf_token": csrf_token(client, f"/companies/{org}"), "email": "kim@"})
    assert response.status_code == 400
    assert "Enter a valid e-mail address" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count(Invitation.id))).scalar() == 0


def test_join_request_is_approved_by_the_org_admin(app, client, auth, create_user, create_org):
    org = create_org()
    create_user(email="orgadmin@lms.se", roles=("org_admin",), organisation=org)
    learner_id = create_user(email="new@lms.se", language="en")
    auth.login("new@lms.se")
    response = client.post("/account/join", data={"csrf_token": csrf_token(client, "/account"),
                                                  "organisation_id": str(org)})
    assert response.status_code == 302
    again = client.post("/account/join", data={"csrf_token": csrf_token(client, "/account"),
                                               "organisation_id": str(org)}, headers={"Accept-Language": "en"})
    assert again.status_code == 400 and "already asked" in again.get_data(as_text=True)
    auth.logout()
    auth.login("orgadmin@lms.se")
    with app.app_context():
        request_id = db.session.execute(sa.select(JoinRequest.id)).scalar_one()
    url = f"/companies/{org}/requests/{request_id}/approve"
    assert client.post(url, data={"csrf_token": csrf_token(client, f"/companies/{org}")}).status_code == 302
    with app.app_context():
        assert db.session.get(User, learner_id).organisation_id == org
    # Deciding twice changes nothing.
    client.post(url.replace("approve", "reject"), data={"csrf_token": csrf_token(client, f"/companies/{org}")})
    with app.app_context():
        assert db.session.execute(sa.select(JoinRequest.status)).scalar_one() == "approved"
        assert db.session.get(User, learner_id).organisation_id == org


def test_org_admin_cannot_decide_another_companys_requests(app, client, auth, create_user, create_org):
    mine, theirs = create_org(name="Mine AB"), create_org(name="Theirs AB")
    create_user(email="orgadmin@lms.se", roles=("org_admin",), organisation=mine)
    learner_id = create_user(email="new@lms.se")
    with app.app_context():
        db.session.add(JoinRequest(organisation_id=theirs, user_id=learner_id))
        db.session.commit()
        request_id = db.session.execute(sa.select(JoinRequest.id)).scalar_one()
    auth.login("orgadmin@lms.se")
    token = csrf_token(client, f"/companies/{mine}")
    assert client.post(f"/companies/{theirs}/requests/{request_id}/approve",
                       data={"csrf_token": token}).status_code == 403
    client.post(f"/companies/{mine}/requests/{request_id}/approve", data={"csrf_token": token})
    with app.app_context():
        assert db.session.get(User, learner_id).organisation_id is None


def test_org_admin_grants_admin_role_and_removes_members(app, client, auth, create_user, create_org):
    org = create_org()
    create_user(email="orgadmin@lms.se", roles=("org_admin",), organisation=org)
    colleague = create_user(email="colleague@lms.se", organisation=org)
    auth.login("orgadmin@lms.se")
    token = csrf_token(client, f"/companies/{org}")
    client.post(f"/companies/{org}/members/{colleague}/grant-admin", data={"csrf_token": token})
    with app.app_context():
        assert db.session.get(User, colleague).has_role("org_admin")
    client.post(f"/companies/{org}/members/{colleague}/remove", data={"csrf_token": token})
    with app.app_context():
        user = db.session.get(User, colleague)
        assert user.organisation_id is None and not user.has_role("org_admin")
