"""Forms of the learner pages. Question fields vary by question type, so the answer form carries only what
every answer has (CSRF token, attempt number); the question type reads its own fields."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SearchField, SelectField
from wtforms.validators import Length, Optional

from ..forms import select_choices


class ActionForm(FlaskForm):
    """A button that changes something (enrol, finish a lesson, leave): the CSRF token only."""


class AttemptForm(FlaskForm):
    """Answering a question or submitting the quiz: the attempt the page was shown for."""

    attempt = HiddenField()


class CatalogueFilterForm(FlaskForm):
    """The catalogue's filters (a GET form: nothing changes, so no CSRF token)."""

    class Meta:
        csrf = False

    q = SearchField(_l("Search"), validators=[Optional(), Length(max=100, message=_l("Search for at most 100 characters."))])
    lang = SelectField(_l("Language"), default="")
    path = SelectField(_l("Learning path"), default="")
    duration = SelectField(_l("Length"), default="")

    def set_choices(self, paths: list[tuple[str, str]]) -> None:
        self.lang.choices = select_choices([("", _l("Any language")), ("sv", "Svenska"), ("en", "English")])
        self.path.choices = select_choices([("", _l("All learning paths")), *paths])
        self.duration.choices = select_choices([
            ("", _l("Any length")), ("short", _l("Up to 15 minutes")), ("medium", _l("16 to 30 minutes")),
            ("long", _l("More than 30 minutes"))])
