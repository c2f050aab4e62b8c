"""Forms of the authoring pages (Flask-WTF: CSRF-protected)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired


class UploadForm(FlaskForm):
    package = FileField(_l("Module package (zip)"), validators=[
        FileRequired(_l("Choose a zip file.")), FileAllowed(["zip"], _l("The package must be a .zip file."))],
        description=_l("A zip of the module folder: module.yaml, quiz.yaml, lessons/ and media/."))


class ActionForm(FlaskForm):
    """A button that changes something (publish, unpublish): the form exists for its CSRF token."""
