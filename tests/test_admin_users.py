import sqlalchemy as sa

from lms_service.accounts.models import User
from lms_service.extensions import db
from tests.conftest import csrf_token, login


def test_only_admins_see_the_accounts_page(client, auth, create_user):
    create_user(email="author@lms.se", roles=("author",))
    auth.login("author@lms.se")
    assert client.get("/admin/users/").status_code == 403


def test_admin_searches_and_sets_roles(app, client, auth, create_user, create_org):
    org = create_org()
    create_user(email="admin@lms.se", roles=("admin",), language="en")
    member = create_user(email="anna@komponent.se", display_name="Anna Andersson", organisation=org)
    loner = create_user(email="bo@lms.se", display_name="Bo Berg")
    auth.login("admin@lms.se")
    page = client.get("/admin/users/?q=ANNA").get_data(as_text=True)
    assert "anna@komponent.se" in page and "bo@lms.se" not in page
    token = csrf_token(client, "/admin/users/")
    client.post(f"/admin/users/{member}/roles", data={"csrf_token": token, "roles": ["author", "org_admin"]})
    with app.app_context():
        assert db.session.get(User, member).roles == {"learner", "author", "org_admin"}
    # An org admin must belong to a company; an unknown role is refused; nothing changes.
    response = client.post(f"/admin/users/{loner}/roles", data={"csrf_token": token, "roles": ["org_admin"]},
                           follow_redirects=True)
    assert "Only a member of a company" in response.get_data(as_text=True)
    response = client.post(f"/admin/users/{loner}/roles", data={"csrf_token": token, "roles": ["superuser"]},
                           follow_redirects=True)
    assert "Unknown role superuser" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, loner).roles == {"learner"}
    assert client.post("/admin/users/9999/roles", data={"csrf_token": token}).status_code == 404


def test_admin_cannot_lock_themself_out(app, client, auth, create_user):
    admin = create_user(email="admin@lms.se", roles=("admin",), language="en")
    auth.login("admin@lms.se")
    token = csrf_token(client, "/admin/users/")
    response = client.post(f"/admin/users/{admin}/roles", data={"csrf_token": token, "roles": []},
                           follow_redirects=True)
    assert "cannot remove your own administrator role" in response.get_data(as_text=True)
    response = client.post(f"/admin/users/{admin}/deactivate", data={"csrf_token": token}, follow_redirects=True)
    assert "cannot deactivate your own account" in response.get_data(as_text=True)
    with app.app_context():
        user = db.session.get(User, admin)
        assert user.has_role("admin") and user.active


def test_deactivated_account_is_logged_out_and_cannot_log_in(app, client, auth, create_user):
    create_user(email="admin@lms.se", roles=("admin",))
    victim = create_user(email="gone@lms.se")
    other = app.test_client()
    login(other, "gone@lms.se")
    assert other.get("/account").status_code == 200
    auth.login("admin@lms.se")
    client.post(f"/admin/users/{victim}/deactivate", data={"csrf_token": csrf_token(client, "/admin/users/")})
    assert other.get("/account").status_code == 302
    assert login(app.test_client(), "gone@lms.se").status_code == 400
    with app.app_context():
        assert db.session.execute(sa.select(User.active).where(User.id == victim)).scalar_one() is False
