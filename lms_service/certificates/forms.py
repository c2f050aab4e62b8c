"""Forms of the certificates feature (CSRF on every one of them)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import DateInput

from .services import REASON_MAX


class RevokeForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[
        DataRequired(message=_l("Give a reason for revoking the certificate.")),
        Length(max=REASON_MAX, message=_l("The reason can be at most %(max)d characters.", max=REASON_MAX))],
        description=_l("Shown on the public verification page."))


class AssignmentForm(FlaskForm):
    user_id = SelectField(_l("Employee"), validate_choice=False,
                          validators=[DataRequired(message=_l("Choose an employee."))])
    subject = SelectField(_l("Module or learning path"), validate_choice=False,
                          validators=[DataRequired(message=_l("Choose a module or learning path."))])
    # A text field with a date widget: the service parses it, so a bad value gets our own message.
    due_date = StringField(_l("Due date"), widget=DateInput(),
                           validators=[DataRequired(message=_l("Give the due date as YYYY-MM-DD."))],
                           description=_l("YYYY-MM-DD"))


class ReminderSettingsForm(FlaskForm):
    opt_out = BooleanField(_l("Do not send me reminder e-mails"))
