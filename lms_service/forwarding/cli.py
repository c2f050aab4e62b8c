"""`flask lrs forward` (the worker) and `flask lrs targets ...` (external LRSs), added to the `flask lrs` group."""
from __future__ import annotations

import json
import signal

import click
from flask.cli import AppGroup, with_appcontext

from .models import VERSIONS
from .services import (
    TargetError,
    backfill,
    create_target,
    delete_target,
    get_target,
    health,
    list_targets,
    retry_dead,
    update_target,
)

targets = AppGroup("targets", help="External LRSs that receive copies of stored statements.")


def _target_row(target) -> dict:
    # Never the secret, not even encrypted.
    return {"id": target.id, "name": target.name, "endpoint": target.endpoint, "key": target.key,
            "xapi_version": target.xapi_version, "filter": {"organisation_id": target.filter_organisation_id,
                                                            "verb": target.filter_verb,
                                                            "activity": target.filter_activity},
            "enabled": target.enabled, "batch_size": target.batch_size, "post_batches": target.post_batches}


def _fail(error: TargetError):
    option = {"filter_organisation_id": "--org", "filter_verb": "--verb", "filter_activity": "--activity",
              "xapi_version": "--xapi-version", "batch_size": "--batch-size"}.get(error.field or "",
                                                                                  f"--{error.field}")
    prefix = f"{option}: " if error.field else ""
    raise click.UsageError(prefix + error.message) from None


@targets.command("add")
@click.option("--name", required=True, help="A short name, e.g. the company whose LRS it is.")
@click.option("--endpoint", required=True, help="The LRS endpoint, e.g. https://lrs.example.com/xapi/")
@click.option("--key", required=True, help="The key (user name) of the target's credential.")
@click.option("--secret", prompt=True, hide_input=True, help="The secret (asked for when omitted).")
@click.option("--xapi-version", type=click.Choice(VERSIONS), default="2.0.0", show_default=True)
@click.option("--org", "organisation_id", type=int, default=None, help="Only this organisation's statements.")
@click.option("--verb", default=None, help="Only statements with this verb id.")
@click.option("--activity", default=None, help="Only statements about this activity (object or context).")
@click.option("--batch-size", type=int, default=100, show_default=True, help="Statements per POST with --post-batches.")
@click.option("--post-batches/--put", default=False, help="POST batches instead of one PUT per statement.")
@click.option("--paused", is_flag=True, help="Queue statements but send nothing yet.")
@click.option("--backfill", "with_backfill", is_flag=True, help="Also queue every statement stored so far.")
def add_command(name, endpoint, key, secret, xapi_version, organisation_id, verb, activity, batch_size,
                post_batches, paused, with_backfill):
    """Add a target; statements stored from now on are queued for it."""
    try:
        target = create_target(name, endpoint, key, secret, xapi_version=xapi_version,
                               filter_organisation_id=organisation_id, filter_verb=verb, filter_activity=activity,
                               enabled=not paused, batch_size=batch_size, post_batches=post_batches)
        queued = backfill(target.id) if with_backfill else 0
    except TargetError as error:
        _fail(error)
    click.echo(f"added target {target.name} (id {target.id}) -> {target.endpoint} [{target.filter_text}]"
               + (f"; {queued} stored statements queued" if with_backfill else ""))


@targets.command("update")
@click.argument("target")
@click.option("--name", default=None)
@click.option("--endpoint", default=None)
@click.option("--key", default=None)
@click.option("--secret", is_flag=False, flag_value="", default=None,
              help="A new secret; give the option without a value to be asked for it.")
@click.option("--xapi-version", type=click.Choice(VERSIONS), default=None)
@click.option("--org", "organisation_id", type=int, default=None)
@click.option("--verb", default=None, help="A verb id, or '' for any verb.")
@click.option("--activity", default=None, help="An activity id, or '' for any activity.")
@click.option("--all-orgs", is_flag=True, help="Remove the organisation filter.")
@click.option("--batch-size", type=int, default=None)
@click.option("--post-batches/--put", default=None)
def update_command(target, name, endpoint, key, secret, xapi_version, organisation_id, verb, activity, all_orgs,
                   batch_size, post_batches):
    """Change a target (by name or id)."""
    if secret == "":
        secret = click.prompt("Secret", hide_input=True)
    changes = {k: v for k, v in {"name": name, "endpoint": endpoint, "key": key, "secret": secret,
                                 "xapi_version": xapi_version, "filter_verb": verb, "filter_activity": activity,
                                 "batch_size": batch_size, "post_batches": post_batches}.items() if v is not None}
    if organisation_id is not None:
        changes["filter_organisation_id"] = organisation_id
    if all_orgs:
        changes["filter_organisation_id"] = None
    if not changes:
        raise click.UsageError("nothing to change: give at least one option")
    try:
        updated = update_target(target, **changes)
    except TargetError as error:
        _fail(error)
    click.echo(f"updated target {updated.name} -> {updated.endpoint} [{updated.filter_text}]")


@targets.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def list_command(as_json):
    """List targets (never their secrets)."""
    rows = [_target_row(t) for t in list_targets()]
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("no forwarding targets")
    for target in list_targets():
        state = "enabled" if target.enabled else "paused"
        click.echo(f"{target.id:>4}  {target.name}  {state}  xAPI {target.xapi_version}  {target.endpoint}  "
                   f"[{target.filter_text}]")


def _set_enabled(target, enabled: bool):
    try:
        updated = update_target(target, enabled=enabled)
    except TargetError as error:
        _fail(error)
    click.echo(f"{'enabled' if enabled else 'paused'} target {updated.name}")


@targets.command("enable")
@click.argument("target")
def enable_command(target):
    """Send to a target again."""
    _set_enabled(target, True)


@targets.command("pause")
@click.argument("target")
def pause_command(target):
    """Stop sending to a target; statements are still queued for it."""
    _set_enabled(target, False)


@targets.command("remove")
@click.argument("target")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def remove_command(target, yes):
    """Delete a target and its queue (unsent statements for it are dropped)."""
    try:
        found = get_target(target)
    except TargetError as error:
        _fail(error)
    if not yes:
        click.confirm(f"Delete target {found.name} and its queue?", abort=True)
    click.echo(f"removed target {delete_target(found.id)}")


@targets.command("retry-dead")
@click.argument("target")
def retry_dead_command(target):
    """Queue a target's dead letters (rejected or flagged statements) again."""
    try:
        count = retry_dead(target)
    except TargetError as error:
        _fail(error)
    click.echo(f"queued {count} dead letters again")


@targets.command("backfill")
@click.argument("target")
def backfill_command(target):
    """Queue every stored statement the target's filter matches and that is not queued for it yet."""
    try:
        count = backfill(target)
    except TargetError as error:
        _fail(error)
    click.echo(f"queued {count} stored statements")


@targets.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def status_command(as_json):
    """Per target: queued, sending, sent, failed, dead, flagged conflicts, lag and the last error."""
    rows = []
    for item in health():
        rows.append({"name": item.target.name, "status": item.status, **item.counts, "conflicts": item.conflicts,
                     "lag_seconds": None if item.lag_seconds is None else round(item.lag_seconds, 1),
                     "last_error": item.target.last_error if item.target.failures else None})
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        lag = "-" if row["lag_seconds"] is None else f"{row['lag_seconds']:.0f}s"
        click.echo(f"{row['name']}: {row['status']}  queued={row['queued']} sending={row['sending']} "
                   f"sent={row['sent']} failed={row['failed']} dead={row['dead']} conflicts={row['conflicts']} "
                   f"lag={lag}" + (f"\n  last error: {row['last_error']}" if row["last_error"] else ""))


@click.command("forward")
@click.option("--once", is_flag=True, help="Stop when no statement is due instead of waiting for more.")
@click.option("--batch-size", type=click.IntRange(1, 1000), default=None, help="Rows claimed at a time.")
@with_appcontext
def forward_command(once, batch_size):
    """Run the forwarding worker (the Procfile's worker: line). SIGTERM stops it after the current batch."""
    from .worker import WorkerLockError, run_worker

    stopping = []

    def stop(signum, frame):
        stopping.append(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        handled = run_worker(once=once, should_stop=lambda: bool(stopping), claim_size=batch_size)
    except WorkerLockError as error:
        raise click.ClickException(str(error)) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo(f"forwarding worker stopped; {handled} outbox rows handled")
