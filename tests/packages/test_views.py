"""Authoring pages and media: role author, CSRF on, upload → report → preview → publish; history."""
from __future__ import annotations

import io
import re

from lms_service.packages import services

from ..conftest import csrf_token
from .helpers import FIXTURES, SAMPLE, VALID, copy_package, zip_folder

INDEX = "/authoring/modules/"


def upload(client, data, filename="package.zip"):
    token = csrf_token(client, INDEX)
    return client.post(INDEX, data={"csrf_token": token, "package": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def author(create_user, auth, email="author@lms.se"):
    create_user(email=email, roles=("author",), language="en")
    auth.login(email)


def test_authoring_needs_the_author_role(client, create_user, auth):
    assert client.get(INDEX).status_code == 302  # to the login page
    create_user(email="learner@lms.se")
    auth.login("learner@lms.se")
    assert client.get(INDEX).status_code == 403


def test_upload_invalid_package_shows_the_report_and_imports_nothing(app, client, create_user, auth):
    author(create_user, auth)

    response = upload(client, zip_folder(FIXTURES / "missing-language"))

    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "2 problems in the package" in html
    assert "The translation into &#39;en&#39; is missing." in html
    assert "lessons/01-intro.en.md" in html
    with app.app_context():
        assert services.list_modules() == []


def test_upload_malicious_zip_is_refused(app, client, create_user, auth):
    from .helpers import zip_entries

    author(create_user, auth)
    response = upload(client, zip_entries({"../../etc/x.md": b"x", "module.yaml": b"a: 1"}))

    assert response.status_code == 422
    assert "A path that leaves the package (..) is not allowed: ../../etc/x.md" in response.get_data(as_text=True)


def test_upload_too_large_is_refused(app, make_app, create_user):
    small = make_app(MODULE_UPLOAD_MAX_BYTES=1000)
    client = small.test_client()
    create_user(email="author@lms.se", roles=("author",), language="en")
    from ..conftest import login

    login(client, "author@lms.se")
    response = upload(client, zip_folder(SAMPLE))

    assert response.status_code == 422
    assert "The zip is larger than the limit of 0.0 MB." in response.get_data(as_text=True)


def test_upload_without_csrf_or_file_changes_nothing(app, client, create_user, auth):
    author(create_user, auth)

    no_csrf = client.post(INDEX, data={"package": (io.BytesIO(zip_folder(SAMPLE)), "p.zip")},
                          content_type="multipart/form-data")
    no_file = client.post(INDEX, data={"csrf_token": csrf_token(client, INDEX)})
    not_zip = upload(client, b"hello", filename="notes.txt")

    assert no_csrf.status_code == 400
    assert no_file.status_code == 400 and "Choose a zip file." in no_file.get_data(as_text=True)
    assert not_zip.status_code == 400 and "The package must be a .zip file." in not_zip.get_data(as_text=True)
    with app.app_context():
        assert services.list_modules() == []


def test_upload_preview_publish_and_history(app, client, create_user, auth, tmp_path):
    author(create_user, auth)

    response = upload(client, zip_folder(SAMPLE))
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "is uploaded as a draft" in page and "draft (not published)" in page

    for lang, words in (("sv", "Varför läckor kostar"), ("en", "Why leaks cost money")):
        preview = client.get(f"/authoring/modules/sample-compressed-air/1.0.0/preview?lang={lang}")
        html = preview.get_data(as_text=True)
        assert preview.status_code == 200
        assert words in html
        assert html.count("<fieldset") == 7
        quiz = html.split('class="quiz"')[1].split("</form>")[0]
        # Accepted answers and explanations stay on the server until the learner has answered.
        assert "ultrasonic" not in quiz and "ultraljud" not in quiz and "checked" not in quiz
        assert "Most of the electricity becomes heat" not in quiz
    assert client.get("/authoring/modules/sample-compressed-air/1.0.0/preview?lang=de").status_code == 404

    token = csrf_token(client, "/authoring/modules/sample-compressed-air/")
    published = client.post("/authoring/modules/sample-compressed-air/1.0.0/publish", data={"csrf_token": token})
    assert published.status_code == 302
    with app.app_context():
        module = services.get_module_by_slug("sample-compressed-air")
        assert services.latest_published_version(module).version == "1.0.0"

    second = copy_package(SAMPLE, tmp_path / "v2")
    text = (second / "module.yaml").read_text(encoding="utf-8").replace("version: 1.0.0", "version: 1.1.0")
    (second / "module.yaml").write_text(text, encoding="utf-8")
    quiz = (second / "quiz.yaml").read_text(encoding="utf-8").replace("correct: heat", "correct: pressure")
    (second / "quiz.yaml").write_text(quiz, encoding="utf-8")
    assert upload(client, zip_folder(second)).status_code == 302

    history = client.get("/authoring/modules/sample-compressed-air/").get_data(as_text=True)
    assert re.search(r"Questions changed: <code>biggest-cost</code>", history)
    assert "New learners start on version 1.0.0." in history

    again = upload(client, zip_folder(second))
    assert again.status_code == 302
    assert "already uploaded with exactly this content" in client.get(again.headers["Location"]).get_data(as_text=True)

    token = csrf_token(client, "/authoring/modules/sample-compressed-air/")
    client.post("/authoring/modules/sample-compressed-air/1.0.0/unpublish", data={"csrf_token": token})
    with app.app_context():
        assert services.latest_published_version(services.get_module_by_slug("sample-compressed-air")) is None

    exported = client.get("/authoring/modules/sample-compressed-air/1.1.0/export")
    assert exported.status_code == 200 and exported.mimetype == "application/zip"


def test_upload_conflicting_content_is_refused_with_an_explanation(app, client, create_user, auth, tmp_path):
    author(create_user, auth)
    upload(client, zip_folder(VALID))
    changed = copy_package(VALID, tmp_path / "changed")
    quiz = (changed / "quiz.yaml").read_text(encoding="utf-8").replace("correct: a\n", "correct: b\n")
    (changed / "quiz.yaml").write_text(quiz, encoding="utf-8")

    response = upload(client, zip_folder(changed))

    assert response.status_code == 409
    assert "is already imported with different content" in response.get_data(as_text=True)


def test_media_headers(app, client):
    from .test_services import parsed

    with app.app_context():
        services.import_package(parsed(SAMPLE), publish=True)
        sha = services.get_module_by_slug("sample-compressed-air").versions[0].media[0].blob.sha256

    response = client.get(f"/media/modules/{sha}.svg")

    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    assert response.data.startswith(b"<svg")
    assert client.get("/media/modules/not-a-hash.svg").status_code == 404
    assert client.get(f"/media/modules/{'0' * 64}.svg").status_code == 404


def test_unknown_module_pages_are_404(client, create_user, auth):
    author(create_user, auth)

    assert client.get("/authoring/modules/nothing/").status_code == 404
    assert client.get("/authoring/modules/nothing/1.0.0/preview").status_code == 404
