"""Forms of the forwarding admin page."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..forms import select_choices
from .models import VERSIONS


class TargetForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)],
                       description=_l("A short name, for example the company whose LRS it is."))
    endpoint = StringField(_l("Endpoint"), validators=[DataRequired(), Length(max=2048)],
                           description=_l("The LRS endpoint, for example https://lrs.example.com/xapi/"))
    key = StringField(_l("Key"), validators=[DataRequired(), Length(max=255)])
    secret = PasswordField(_l("Secret"), validators=[DataRequired(), Length(max=1000)],
                           description=_l("Stored encrypted and never shown again."))
    xapi_version = SelectField(_l("xAPI version"), choices=select_choices((v, v) for v in VERSIONS))
    organisation = SelectField(_l("Only statements of the company"), choices=select_choices([("", "")]),
                               validate_choice=True)
    verb = StringField(_l("Only statements with the verb"), validators=[Optional(), Length(max=2048)],
                       description=_l("A verb id, for example http://adlnet.gov/expapi/verbs/completed"))
    activity = StringField(_l("Only statements about the activity"), validators=[Optional(), Length(max=2048)],
                           description=_l("An activity id: the statement's object or one of its context activities."))
    batch_size = IntegerField(_l("Batch size"), default=100, validators=[Optional(), NumberRange(1, 500)])
    post_batches = BooleanField(_l("Send batches with POST instead of one PUT per statement"))
    backfill = BooleanField(_l("Also send the statements stored so far"))


class ActionForm(FlaskForm):
    """CSRF only: retry dead letters, pause, resume, delete."""


class DeleteForm(FlaskForm):
    confirm = BooleanField(_l("Also drop its queue"), validators=[DataRequired()])
