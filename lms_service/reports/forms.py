"""Forms of the report pages: a company's sharing with the programme, and reporting API tokens."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..forms import select_choices
from .models import TOKEN_SCOPES


def scope_labels() -> dict[str, str]:
    return {"reports:aggregates": str(_l("Figures: counts per module, path, company, county and month")),
            "reports:learners": str(_l("Individual learners: progress, completions and certificates"))}


class SharingForm(FlaskForm):
    """A yes/no decision carried by which button was pressed; the form itself only carries the CSRF token."""


class TokenForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)],
                       description=_l("What the token is for, for example the system that uses it."))
    scopes = SelectMultipleField(_l("Scopes"), validators=[DataRequired()],
                                 widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    valid_days = IntegerField(_l("Valid for (days)"), validators=[Optional(), NumberRange(1, 3650)],
                              description=_l("Leave empty for a token that does not expire."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        labels = scope_labels()
        self.scopes.choices = select_choices((scope, labels[scope]) for scope in TOKEN_SCOPES)


class RevokeForm(FlaskForm):
    pass
