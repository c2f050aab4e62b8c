"""Forms: shape and presence only; the services own the business rules and their messages."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from ..forms import select_choices

LANGUAGE_CHOICES = [("sv", "Svenska"), ("en", "English")]


def _languages():
    return select_choices(LANGUAGE_CHOICES)


class NewPasswordForm(FlaskForm):
    """A new password typed twice; the services check its rules."""

    password = PasswordField(_l("New password (at least 10 characters)"),
                             validators=[DataRequired(message=_l("Choose a password."))],
                             render_kw={"autocomplete": "new-password"})
    password_again = PasswordField(_l("New password again"), validators=[
        DataRequired(message=_l("Type the password again.")),
        EqualTo("password", message=_l("The two passwords are not the same."))],
        render_kw={"autocomplete": "new-password"})


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(message=_l("Enter your e-mail address."))],
                       render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), validators=[DataRequired(message=_l("Enter your password."))],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("Keep me logged in on this device"))
    next = HiddenField()


class SignupForm(FlaskForm):
    display_name = StringField(_l("Your name"), validators=[DataRequired(message=_l("Enter your name.")),
                                                             Length(max=120)],
                               render_kw={"autocomplete": "name"})
    email = EmailField(_l("E-mail"), validators=[DataRequired(message=_l("Enter your e-mail address."))],
                       render_kw={"autocomplete": "email"})
    password = PasswordField(_l("Password (at least 10 characters)"),
                             validators=[DataRequired(message=_l("Choose a password."))],
                             render_kw={"autocomplete": "new-password"})
    password_again = PasswordField(_l("Password again"), validators=[
        DataRequired(message=_l("Type the password again.")),
        EqualTo("password", message=_l("The two passwords are not the same."))],
        render_kw={"autocomplete": "new-password"})
    language = SelectField(_l("Language"), choices=_languages, validate_choice=False)
    organisation_id = SelectField(_l("Your company"), coerce=str, validate_choice=False)
    invitation = HiddenField()


class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(message=_l("Enter your e-mail address."))],
                       render_kw={"autocomplete": "email"})


class ResetPasswordForm(NewPasswordForm):
    pass


class ProfileForm(FlaskForm):
    display_name = StringField(_l("Your name"), validators=[DataRequired(message=_l("Enter your name.")),
                                                             Length(max=120)],
                               render_kw={"autocomplete": "name"})
    language = SelectField(_l("Language"), choices=_languages, validate_choice=False)


class ChangePasswordForm(NewPasswordForm):
    current_password = PasswordField(_l("Current password"),
                                     validators=[DataRequired(message=_l("Enter your current password."))],
                                     render_kw={"autocomplete": "current-password"})


class JoinForm(FlaskForm):
    organisation_id = SelectField(_l("Company"), coerce=str, validate_choice=False)
