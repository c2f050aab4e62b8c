"""Organisations: supplier companies and IT firms, invitations, join requests, `flask orgs`."""
from flask import Flask


def init_app(app: Flask) -> None:
    from . import cli, views

    app.register_blueprint(views.bp)
    app.cli.add_command(cli.orgs)
