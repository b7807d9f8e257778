"""``kpi digest resend`` and ``kpi digest mark-arrived``: a person settles a delivery whose outcome is unknown.

Only an ``unknown`` row is changed (anything else exits 2), and the decision is recorded in the
ledger: ``mark-arrived`` makes it ``sent``; ``resend`` makes it due again (``failed``) and, for a
digest, sends it now (``kpi serve`` resends an alert or a personal message on its next retry).
"""

from __future__ import annotations

import sys

import click

from . import context

KINDS = ("digest", "alert", "alert_clear", "personal")


def _row_options(command):
    for option in reversed(
        [
            click.argument("name"),
            click.option(
                "--kind",
                type=click.Choice(KINDS),
                default="digest",
                show_default=True,
                help="The row's kind.",
            ),
            click.option("--period", "-p", required=True, help="The row's period label (2026-W47)."),
            click.option("--destination", "-d", required=True, help="The row's destination (email:a@x.com)."),
            click.option("--segment", default="", help="The row's segment (alerts with `by`)."),
            context.config_option,
        ]
    ):
        command = option(command)
    return command


def _settle(config_path, kind, name, period, segment, destination, *, arrived: bool):
    from ..delivery.ledger import UNKNOWN, settle_unknown
    from ..delivery.store import ledger_engine
    from ..message import MessageKey

    config = context.load(config_path)
    engine = ledger_engine(config, create=False)
    key = MessageKey(kind, name, period, segment)
    before = settle_unknown(engine, key, destination, arrived=arrived) if engine is not None else "missing"
    where = f"{key.describe()} to {destination}"
    if before != UNKNOWN:
        shown = "no such delivery in the ledger" if before == "missing" else f"its status is {before}"
        click.echo(
            f"Error: {where}: only a delivery whose outcome is unknown can be settled, and {shown} "
            "(see kpi digest deliveries; kpi digest send --force resends deliberately)",
            err=True,
        )
        sys.exit(2)
    return config, engine


@click.command("mark-arrived")
@_row_options
def mark_arrived_command(name, kind, period, destination, segment, config_path):
    """Record that a delivery whose outcome was unknown did arrive (checked by a person): it becomes sent."""
    _settle(config_path, kind, name, period, segment, destination, arrived=True)
    click.echo(f"{kind} {name} {period} to {destination}: marked arrived (sent)")


@click.command("resend")
@_row_options
def resend_command(name, kind, period, destination, segment, config_path):
    """Send again a delivery whose outcome was unknown (it did not arrive): a digest is sent now."""
    config, engine = _settle(config_path, kind, name, period, segment, destination, arrived=False)
    if kind != "digest":
        click.echo(
            f"{kind} {name} {period} to {destination}: due again; kpi serve sends it on its next retry"
        )
        return
    from ..digest.config import digest_spec
    from ..serve.send import send_digest

    reg = context.registry()
    spec = digest_spec(config, name, reg)
    run = send_digest(config, spec, period=period, registry=reg, engine=engine, destinations=[destination])
    for outcome in run.outcomes:
        click.echo(outcome.message)
    if run.failed:
        sys.exit(1)
