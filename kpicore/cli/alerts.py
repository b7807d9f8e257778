"""``kpi alerts list``, ``kpi alerts check`` (the ``[alerts.NAME]`` rules, evaluated now, nothing sent) and
``kpi alerts deliveries`` (what was sent)."""

from __future__ import annotations

import json

import click

from . import context


@click.group("alerts")
def alerts_group():
    """List the [alerts.NAME] rules of kpi.toml, or evaluate them now without sending anything."""


def _specs(config, reg):
    """Every alert rule, checked against the metrics and targets; the first problem is a ConfigError."""
    from ..alerts.check import alert_problems
    from ..alerts.rules import alert_specs
    from ..errors import ConfigError

    problems = alert_problems(config, reg)
    if problems:
        raise ConfigError(problems[0])
    return alert_specs(config)


@alerts_group.command("list")
@context.config_option
def list_command(config_path):
    """Show each alert: its rule, dimension, period, schedule and destinations."""
    config = context.load(config_path)
    reg = context.registry()
    specs = _specs(config, reg)
    if not specs:
        click.echo('No alerts: add an [alerts.NAME] table with when = "churn_rate > 5" to kpi.toml.')
        return
    for spec in specs.values():
        when = spec.schedule or (f"every {spec.every}" if spec.every else "not scheduled")
        by = f" by {spec.by}" if spec.by else ""
        where = ", ".join(spec.destinations) or "no destinations"
        click.echo(f"{spec.name}: {spec.when}{by} · {spec.period} · {when} · {where}")


@alerts_group.command("deliveries")
@click.argument("name", required=False)
@click.option("--period", "-p", help="Only this period's rows, as the ledger names it (2026-W47).")
@context.config_option
def deliveries_command(name, period, config_path):
    """Show the alerts' and clears' rows of the delivery ledger (newest first): status, attempts, last error."""
    from .digest import show_deliveries

    show_deliveries(config_path, name, period, ("alert", "alert_clear"))


@alerts_group.command("check")
@click.argument("name", required=False)
@click.option("--period", "-p", help="The period to evaluate (default: each rule's period, else last-week).")
@context.source_option
@context.tz_option
@context.table_or_json_option
@context.config_option
def check_command(name, period, source, tz, output, config_path):
    """Evaluate the alert NAME (or every alert) now: firing or not, with its numbers. Sends nothing.

    \b
    Examples:
      kpi alerts check
      kpi alerts check churn_spike --period 2026-W47 --format json
    """
    from ..alerts.evaluate import describe, evaluate
    from ..errors import ConfigError
    from ..presentation.formatting import segment_label

    config = context.load(config_path)
    reg = context.registry()
    context.warn_problems(reg)
    specs = _specs(config, reg)
    if name is not None:
        if name not in specs:
            known = ", ".join(sorted(specs)) or "none in kpi.toml"
            raise ConfigError(f"unknown alert {name!r} (known: {known})")
        specs = {name: specs[name]}
    zone = context.timezone(config, tz)
    the_source = context.open_source(config, source, reg)
    states = []
    try:
        for spec in specs.values():
            the_period = context.resolve_period(period or spec.period, zone, config.week_start)
            states.extend(evaluate([spec], the_period, the_source, config, reg))
    finally:
        the_source.close()
    if output == "json":
        click.echo(json.dumps([state.to_json() for state in states], indent=2))
        return
    if not states:
        click.echo("No alerts to check.")
        return
    for state in states:
        unit = reg.metrics[state.metric].item.unit
        by = specs[state.alert].by
        segment = f" [{segment_label(state.segment, by)}]" if state.segment is not None else ""
        mark = "FIRING" if state.firing else "ok"
        click.echo(
            f"{state.alert}{segment}: {mark} · {state.when} · {state.period} · "
            f"{describe(state, unit, config.locale, config.currency)}"
        )


COMMANDS = [alerts_group]
