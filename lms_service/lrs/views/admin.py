"""Admin page for LRS credentials (role admin): list, create, revoke."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from ...accounts.access import role_required
from ...extensions import db
from ...forms import select_choices
from ..clients import SCOPES, ClientError, create_client, list_clients, revoke_client

bp = Blueprint("lrs_admin", __name__, url_prefix="/admin/lrs", template_folder="../templates")


class ClientForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), Length(max=200)],
        description=_l("What the credential is for, for example the system that uses it."),
    )
    scopes = SelectMultipleField(
        _l("Scopes"),
        choices=select_choices((s, s) for s in SCOPES),
        validators=[DataRequired()],
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
    )
    organisation = SelectField(_l("Organisation"), choices=select_choices([("", "")]), validate_choice=True)


class RevokeForm(FlaskForm):
    pass


def _organisation_choices():
    from ...orgs.models import Organisation

    rows = db.session.execute(sa.select(Organisation.id, Organisation.name).order_by(Organisation.name))
    return select_choices([("", _("All organisations (global)"))] + [(str(r.id), r.name) for r in rows])


@bp.route("/clients", methods=["GET", "POST"])
@role_required("admin")
def clients():
    form = ClientForm()
    form.organisation.choices = _organisation_choices()
    created = None
    if form.validate_on_submit():
        organisation_id = int(form.organisation.data) if form.organisation.data else None
        try:
            client, secret = create_client(form.name.data, form.scopes.data, organisation_id)
        except ClientError as error:
            form.name.errors = [*form.name.errors, str(error)]
        else:
            created = {"key": client.key, "secret": secret, "name": client.name}
            flash(
                _(
                    "Credential %(name)s created. Copy the secret now: it is not shown again.",
                    name=client.name,
                ),
                "success",
            )
            form = ClientForm(formdata=None)
            form.organisation.choices = _organisation_choices()
    return render_template(
        "lrs/clients.html", form=form, clients=list_clients(), created=created, revoke_form=RevokeForm()
    )


@bp.route("/clients/<int:client_id>/revoke", methods=["POST"])
@role_required("admin")
def revoke(client_id: int):
    form = RevokeForm()
    if form.validate_on_submit():
        try:
            client = revoke_client(client_id)
        except ClientError:
            flash(_("No such credential."), "error")
        else:
            flash(_("Credential %(name)s revoked.", name=client.name), "success")
    return redirect(url_for(".clients"))
