from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField
from wtforms.validators import DataRequired, Optional


class OrganisationForm(FlaskForm):
    name = StringField(_l("Company name"), validators=[DataRequired(message=_l("Enter the company name."))])
    org_number = StringField(_l("Organisation number"),
                             validators=[DataRequired(message=_l("Enter the organisation number."))],
                             description=_l("Ten digits, like 556677-8899."))
    county = SelectField(_l("County"), validate_choice=False)
    kind = SelectField(_l("Kind of company"), validate_choice=False)


class InvitationForm(FlaskForm):
    email = EmailField(_l("E-mail (leave empty to get a link to share)"), validators=[Optional()])


class ActionForm(FlaskForm):
    """A form with nothing but its CSRF token, for buttons that change something."""
