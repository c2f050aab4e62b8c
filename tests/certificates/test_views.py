"""The pages: learner's certificates and downloads, public verification, revocation, the training plan.
Every permission boundary of "Bad input" has its test here."""
from __future__ import annotations

import datetime as dt
import io
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from lms_service.accounts.models import User
from lms_service.certificates import services
from lms_service.certificates.models import Assignment, Certificate, ReminderOptOut
from lms_service.extensions import db
from tests.conftest import csrf_token

from .conftest import certificate_statements
from .helpers import BASE_IRI, pass_module

UTC = dt.UTC


@contextmanager
def database(app):
    """A short app context for reading or changing rows between requests (never held across a request:
    the test client's requests would share its ``g``)."""
    with app.app_context():
        yield db.session
        db.session.remove()


def only_certificate(app) -> Certificate:
    with database(app) as session:
        cert = session.execute(sa.select(Certificate)).scalar_one()
        session.expunge(cert)
    return cert


def count(app, model) -> int:
    with database(app) as session:
        return session.execute(sa.select(sa.func.count()).select_from(model)).scalar()


@pytest.fixture
def learner(app, catalogue, create_user):
    user_id = create_user(email="asa@example.se", display_name="Åsa Öberg", language="sv")
    with database(app):
        pass_module(user_id, "a1-energy", scaled=0.75)
    return user_id


# ---------------------------------------------------------------- verification


def test_verification_needs_no_login_and_shows_only_the_certificate(app, learner, client):
    cert = only_certificate(app)
    response = client.get(f"/verify/{cert.public_id}", headers={"Accept-Language": "en"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "This certificate is valid." in page
    assert "Åsa Öberg" in page and "Energy mapping" in page and "75 %" in page and "1.2.0" in page
    with database(app) as session:
        user = session.get(User, learner)
        assert user.email not in page and user.xapi_account_name not in page


def test_verification_shows_expired_and_revoked(app, learner, client, create_user):
    cert = only_certificate(app)
    with database(app) as session:
        session.get(Certificate, cert.id).valid_until = dt.datetime.now(UTC) - dt.timedelta(days=1)
        session.commit()
    page = client.get(f"/verify/{cert.public_id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "This certificate has expired." in page

    admin_id = create_user(email="admin@example.se", roles=("admin",))
    with database(app) as session:
        services.revoke_certificate(session.get(Certificate, cert.id), session.get(User, admin_id), "Shared answers")
    page = client.get(f"/verify/{cert.public_id}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "This certificate has been revoked." in page and "Shared answers" in page


@pytest.mark.parametrize("bad_id", ["0" * 32, "not-an-id", "ABC", "x" * 200, "%00", "'; drop table--",
                                    "0123456789abcdef0123456789abcdeg"])
def test_unknown_or_malformed_ids_get_a_clear_404(app, client, bad_id):
    response = client.get(f"/verify/{bad_id}", headers={"Accept-Language": "en"})
    assert response.status_code == 404
    assert "Certificate not found" in response.get_data(as_text=True)


def test_verification_in_swedish(app, learner, client):
    cert = only_certificate(app)
    page = client.get(f"/verify/{cert.public_id}", headers={"Accept-Language": "sv"}).get_data(as_text=True)
    assert "Energikartläggning" in page


# ---------------------------------------------------------------- the learner's downloads


def test_the_learner_sees_and_downloads_their_certificate_as_pdf(app, learner, client, auth):
    cert = only_certificate(app)
    auth.login("asa@example.se")
    page = client.get("/certificates/").get_data(as_text=True)
    assert "Energikartläggning" in page and cert.public_id in page

    response = client.get(f"/certificates/{cert.public_id}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data))
    text = reader.pages[0].extract_text()
    # Swedish (the learner's language), with å ä ö intact and the verification URL in text.
    assert "Intyg" in text or "Certificate" in text
    assert "Åsa Öberg" in text and "Energikartläggning" in text
    assert f"http://localhost/verify/{cert.public_id}" in text
    assert reader.metadata.title and "Energikartläggning" in reader.metadata.title
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "sv"
    # The QR code is an image with alt text in the structure tree.
    assert "/StructTreeRoot" in root
    links = [a.get_object()["/A"]["/URI"] for a in reader.pages[0].get("/Annots", [])]
    assert f"http://localhost/verify/{cert.public_id}" in links
    # The QR code in the PDF encodes the verification URL: its modules match the symbol segno makes for it.
    [qr_image] = reader.pages[0].images
    assert_qr_encodes(qr_image.image, f"http://localhost/verify/{cert.public_id}")


def assert_qr_encodes(image, url: str, scale: int = 8, border: int = 2) -> None:
    import segno

    matrix = segno.make(url, error="m").matrix
    grey = image.convert("L")
    assert grey.size == ((len(matrix) + 2 * border) * scale,) * 2
    seen = [[1 if grey.getpixel(((x + border) * scale + scale // 2, (y + border) * scale + scale // 2)) < 128
             else 0 for x in range(len(matrix))] for y in range(len(matrix))]
    assert seen == [list(row) for row in matrix]


def test_the_pdf_follows_the_learners_language(app, learner, client, auth):
    with database(app) as session:
        session.get(User, learner).language = "en"
        session.commit()
    cert = only_certificate(app)
    auth.login("asa@example.se")
    text = PdfReader(io.BytesIO(client.get(f"/certificates/{cert.public_id}.pdf").data)).pages[0].extract_text()
    assert "Certificate" in text and "Energy mapping" in text and "has passed the module" in text


def test_another_learners_certificate_cannot_be_downloaded(app, learner, client, auth, create_user):
    create_user(email="other@example.se")
    cert = only_certificate(app)
    auth.login("other@example.se")
    assert client.get(f"/certificates/{cert.public_id}.pdf").status_code == 403
    assert client.get(f"/certificates/{cert.public_id}/credential.jwt").status_code == 403
    assert client.get("/certificates/" + "0" * 32 + ".pdf").status_code == 404
    assert cert.public_id not in client.get("/certificates/").get_data(as_text=True)


def test_downloads_need_a_login(app, learner, client):
    cert = only_certificate(app)
    response = client.get(f"/certificates/{cert.public_id}.pdf")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# ---------------------------------------------------------------- revocation


def test_revoking_needs_the_admin_role_and_changes_nothing_otherwise(app, learner, client, auth, create_user,
                                                                     create_org):
    org = create_org()
    create_user(email="orgadmin@example.se", roles=("org_admin",), organisation=org)
    cert = only_certificate(app)
    for email in ("asa@example.se", "orgadmin@example.se"):
        auth.login(email)
        assert client.get(f"/certificates/{cert.public_id}/revoke").status_code == 403
        token = csrf_token(client, "/certificates/")
        response = client.post(f"/certificates/{cert.public_id}/revoke", data={"csrf_token": token, "reason": "x"})
        assert response.status_code == 403, response.get_data(as_text=True)[-1500:]
        auth.logout()
    assert not only_certificate(app).revoked
    with database(app):
        assert len(certificate_statements()) == 1


def test_an_admin_revokes_with_a_reason(app, learner, client, auth, create_user):
    create_user(email="admin@example.se", roles=("admin",), language="en")
    cert = only_certificate(app)
    auth.login("admin@example.se")
    assert cert.public_id in client.get("/certificates/admin").get_data(as_text=True)
    url = f"/certificates/{cert.public_id}/revoke"
    token = csrf_token(client, url)
    response = client.post(url, data={"csrf_token": token, "reason": ""})
    assert response.status_code == 400 and "Give a reason" in response.get_data(as_text=True)
    assert not only_certificate(app).revoked
    # Without the CSRF token: refused, nothing changed.
    assert client.post(url, data={"reason": "Copied"}).status_code == 400
    assert not only_certificate(app).revoked

    response = client.post(url, data={"csrf_token": token, "reason": "Copied answers"})
    assert response.status_code == 302
    cert = only_certificate(app)
    assert cert.revoked and cert.revocation_reason == "Copied answers"
    # Revoking twice: a clear answer, nothing changed.
    response = client.post(url, data={"csrf_token": token, "reason": "Again"})
    assert response.status_code == 400 and "already revoked" in response.get_data(as_text=True)
    assert only_certificate(app).revocation_reason == "Copied answers"
    assert client.get("/certificates/" + "f" * 32 + "/revoke").status_code == 404


# ---------------------------------------------------------------- company admin: training plan


@pytest.fixture
def company(catalogue, create_user, create_org):
    org = create_org(name="Komponent AB")
    other_org = create_org(name="Annan AB")
    ids = {
        "admin": create_user(email="boss@example.se", display_name="Bo Chef", roles=("org_admin",), organisation=org,
                             language="en"),
        "employee": create_user(email="emp@example.se", display_name="Eva Anställd", organisation=org),
        "outsider": create_user(email="out@example.se", display_name="Otto Utanför", organisation=other_org),
        "other_admin": create_user(email="otherboss@example.se", roles=("org_admin",), organisation=other_org),
    }
    return org, other_org, ids


def _assign(client, org, data):
    token = csrf_token(client, f"/certificates/company/{org}")
    return client.post(f"/certificates/company/{org}/assignments", data={"csrf_token": token, **data})


def test_a_company_admin_assigns_and_the_learner_sees_it(company, client, auth):
    org, _other, ids = company
    auth.login("boss@example.se")
    assert client.get("/certificates/company").headers["Location"].endswith(f"/certificates/company/{org}")
    due = (dt.date.today() + dt.timedelta(days=20)).isoformat()
    response = _assign(client, org, {"user_id": ids["employee"], "subject": BASE_IRI + "a2-iso", "due_date": due})
    assert response.status_code == 302
    page = client.get(f"/certificates/company/{org}").get_data(as_text=True)
    assert "Eva Anställd" in page and "ISO 14001 and 50001" in page
    auth.logout()

    auth.login("emp@example.se")
    page = client.get("/certificates/").get_data(as_text=True)
    assert "ISO 14001 och 50001" in page


@pytest.mark.parametrize("data, message", [
    ({"user_id": "outsider", "subject": BASE_IRI + "a2-iso", "due_date": "+5"}, "Choose an employee of this company"),
    ({"user_id": "employee", "subject": "https://example.org/nope", "due_date": "+5"}, "Choose a module or learning"),
    ({"user_id": "employee", "subject": BASE_IRI + "a2-iso", "due_date": "2026-02-30"}, "YYYY-MM-DD"),
    ({"user_id": "employee", "subject": BASE_IRI + "a2-iso", "due_date": "-3"}, "cannot be in the past"),
    ({"user_id": "employee", "subject": BASE_IRI + "a2-iso", "due_date": ""}, "YYYY-MM-DD"),
    ({"user_id": "abc", "subject": BASE_IRI + "a2-iso", "due_date": "+5"}, "Choose an employee of this company"),
])
def test_bad_assignments_get_a_clear_error_and_change_nothing(app, company, client, auth, data, message):
    org, _other, ids = company
    auth.login("boss@example.se")
    data = dict(data)
    data["user_id"] = str(ids.get(data["user_id"], data["user_id"]))
    if data["due_date"][:1] in "+-" and data["due_date"]:
        data["due_date"] = (dt.date.today() + dt.timedelta(days=int(data["due_date"]))).isoformat()
    response = _assign(client, org, data)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count(app, Assignment) == 0


def test_the_training_plan_is_only_for_that_company_s_admins(app, company, client, auth):
    org, other_org, ids = company
    for email in ("emp@example.se", "otherboss@example.se"):
        auth.login(email)
        assert client.get(f"/certificates/company/{org}").status_code == 403
        token = csrf_token(client, "/certificates/")
        due = (dt.date.today() + dt.timedelta(days=5)).isoformat()
        response = client.post(f"/certificates/company/{org}/assignments", data={
            "csrf_token": token, "user_id": ids["employee"], "subject": BASE_IRI + "a2-iso", "due_date": due})
        assert response.status_code == 403
        auth.logout()
    auth.login("emp@example.se")
    assert client.get("/certificates/company").status_code == 403
    assert count(app, Assignment) == 0
    assert client.get("/certificates/company/99999").status_code == 404


def test_withdrawing_is_limited_to_the_company(app, company, client, auth):
    org, other_org, ids = company
    with database(app) as session:
        assignment_id = services.assign(org, session.get(User, ids["admin"]), ids["employee"], BASE_IRI + "a2-iso",
                                        dt.date.today()).id
    auth.login("otherboss@example.se")
    token = csrf_token(client, "/certificates/")
    response = client.post(f"/certificates/company/{other_org}/assignments/{assignment_id}/remove",
                           data={"csrf_token": token})
    assert response.status_code == 404
    assert count(app, Assignment) == 1
    auth.logout()
    auth.login("boss@example.se")
    token = csrf_token(client, f"/certificates/company/{org}")
    assert client.post(f"/certificates/company/{org}/assignments/{assignment_id}/remove").status_code == 400
    response = client.post(f"/certificates/company/{org}/assignments/{assignment_id}/remove",
                           data={"csrf_token": token})
    assert response.status_code == 302
    assert count(app, Assignment) == 0


def test_overdue_and_done_are_statuses_in_the_plan(company, ctx):
    org, _other, ids = company
    admin = db.session.get(User, ids["admin"])
    today = dt.date(2026, 6, 1)
    late = services.assign(org, admin, ids["employee"], BASE_IRI + "a2-iso", today, today=today)
    done = services.assign(org, admin, ids["employee"], BASE_IRI + "a1-energy", today + dt.timedelta(days=9),
                           today=today)
    pass_module(ids["employee"], "a1-energy")
    now = dt.datetime(2026, 6, 5, tzinfo=UTC)
    rows = {row.assignment.id: row.status for row in services.company_assignments(org, now)}
    assert rows == {late.id: "overdue", done.id: "done"}
    assert [r.status for r in services.company_assignments(org, now)] == ["overdue", "done"]


def test_expiring_certificates_are_listed_for_the_company_and_the_learner(app, company, client, auth):
    org, _other, ids = company
    with database(app) as session:
        pass_module(ids["employee"], "a1-energy")
        pass_module(ids["outsider"], "a1-energy")
        for cert in session.execute(sa.select(Certificate)).scalars():
            cert.valid_until = dt.datetime.now(UTC) + dt.timedelta(days=10)
        session.commit()
        expiring = services.expiring_certificates(org, 30)
        assert [c.user_id for c in expiring] == [ids["employee"]]
        assert services.expiring_certificates(org, 5) == []

    auth.login("boss@example.se")
    page = client.get(f"/certificates/company/{org}").get_data(as_text=True)
    assert "Eva Anställd" in page and "Otto" not in page
    auth.logout()
    auth.login("emp@example.se")
    page = client.get("/certificates/").get_data(as_text=True)
    assert "60" in page and 'class="notice"' in page


def test_the_learner_can_opt_out_of_reminders(app, learner, client, auth):
    auth.login("asa@example.se")
    token = csrf_token(client, "/certificates/")
    assert client.post("/certificates/reminders", data={"opt_out": "y"}).status_code == 400
    assert count(app, ReminderOptOut) == 0
    assert client.post("/certificates/reminders", data={"csrf_token": token, "opt_out": "y"}).status_code == 302
    assert count(app, ReminderOptOut) == 1
    assert 'checked' in client.get("/certificates/").get_data(as_text=True)
    assert client.post("/certificates/reminders", data={"csrf_token": token}).status_code == 302
    assert count(app, ReminderOptOut) == 0


DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def test_names_outside_the_core_font_lose_only_their_accents(app, catalogue, create_user):
    from lms_service.certificates.pdf import certificate_pdf, pdf_text

    assert pdf_text("Łukasz Nguyễn – “Åsa” Ødegård") == "Lukasz Nguyen – “Åsa” Ødegård"
    user_id = create_user(email="l@example.se", display_name="Łukasz Nguyễn")
    with database(app):
        pass_module(user_id, "a1-energy")
    cert = only_certificate(app)
    with app.test_request_context():
        text = PdfReader(io.BytesIO(certificate_pdf(cert, "http://localhost/verify/x", "sv"))).pages[0].extract_text()
    assert "Lukasz Nguyen" in text


@pytest.mark.skipif(not __import__("os").path.exists(DEJAVU), reason="Debian's fonts-dejavu-core is not installed")
def test_a_configured_truetype_font_keeps_every_letter(app, catalogue, create_user):
    from lms_service.certificates.pdf import certificate_pdf

    user_id = create_user(email="l@example.se", display_name="Łukasz Nguyễn")
    with database(app):
        pass_module(user_id, "a1-energy")
    cert = only_certificate(app)
    with app.test_request_context():
        data = certificate_pdf(cert, "http://localhost/verify/x", "sv", font=DEJAVU)
    assert "Łukasz Nguyễn" in PdfReader(io.BytesIO(data)).pages[0].extract_text()


def test_a_missing_font_file_stops_the_start(test_config, tmp_path, monkeypatch):
    from lms_service import create_app
    from lms_service.config import ConfigError

    monkeypatch.setenv("LMS_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="CERTIFICATE_PDF_FONT"):
        create_app({**test_config, "CERTIFICATE_PDF_FONT": str(tmp_path / "none.ttf")})
