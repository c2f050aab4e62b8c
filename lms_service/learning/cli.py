"""`flask learning rebuild-progress`: recompute the progress projection from the statements alone."""
from __future__ import annotations

import click
from flask.cli import with_appcontext
from flask_babel import gettext as _


@click.group(help="The learner experience: progress projection.")
def learning() -> None:
    pass


@learning.command("rebuild-progress")
@with_appcontext
def rebuild_progress_command() -> None:
    """Delete the progress rows and fold every stored statement into them again (one transaction)."""
    from .projection import rebuild_progress

    count = rebuild_progress()
    click.echo(_("Progress rebuilt from the statements: %(count)s registrations.", count=count))
    # The reporting table is derived from these rows; its own command rebuilds both in one transaction.
    click.echo(_("Run flask reports rebuild to bring the statistics up to date as well."))
