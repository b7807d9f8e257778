"""``kpi metrics`` and ``kpi plugins``: what is installed and what it provides."""

from __future__ import annotations

import json

import click

from ..errors import KpiError
from . import context


@click.command("metrics")
@click.option("--details", "detail_name", metavar="METRIC", help="Show one metric's definition, rules and SQL.")
@click.option("--period", "-p", default="last-week", show_default=True, help="Period for the SQL shown by --details.")
@context.source_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@context.config_option
def metrics_command(detail_name, period, source, as_json, config_path):
    """List every metric: definition, unit, entities and the plugin providing it."""
    config = context.load(config_path)
    reg = context.registry()
    context.warn_problems(reg)
    if detail_name:
        _details(reg, config, detail_name, period, source)
        return
    rows = []
    for name, registration in sorted(reg.metrics.items()):
        metric = registration.item
        rows.append({
            "name": name, "title": metric.title, "unit": metric.unit, "better": metric.better,
            "entities": list(metric.entities(config)), "plugin": registration.plugin,
            "description": metric.description,
        })
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for column in ("Metric", "Unit", "Better", "Entities", "Plugin", "Definition"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], row["unit"], row["better"], ", ".join(row["entities"]), row["plugin"],
                      row["description"])
    Console().print(table)


#: How a measure's time column meets the period, in words.
_WINDOW_WORDS = {
    "in": "in the period",
    "before_end": "before the period's end",
    "all": "at any time",
    "missing": "is NULL",
}


def _details(reg, config, name, period, source):
    from ..compute import columns_read, preview_sql

    metric = reg.metric(name)
    measures = metric.resolved_measures(config)
    click.echo(f"{metric.name}: {metric.title}")
    click.echo(f"  definition: {metric.description}")
    click.echo(f"  unit: {metric.unit}; better: {metric.better}; plugin: {reg.provider('metrics', name)}")
    click.echo(f"  entities: {', '.join(metric.entities(config))}")
    for measure_name, measure in measures.items():
        time = f", {measure.time} {_WINDOW_WORDS[measure.window]}" if measure.time else ""
        warn = f" (invalid records: {measure.warn})" if measure.warn else ""
        click.echo(f"  measure {measure_name}: {measure.aggregate} of {measure.entity}{time}{warn}")
    for rule in metric.rules:
        click.echo(f"  rule: {rule}")
    try:
        url = context.source_url(config, source)
    except KpiError:
        click.echo("  (no source configured: pass --source to see the columns read and the generated SQL)")
        return
    the_period = context.resolve_period(period, config.timezone)
    the_source = context.open_source(config, url, reg)
    try:
        for entity, columns in columns_read(metric, the_source, the_period, config).items():
            derived = " (derived)" if reg.entity(entity).derive is not None else ""
            click.echo(f"  reads {entity}{derived}: {', '.join(columns)}")
        click.echo(f"\nSQL for {the_period.label} and the period before, on {the_source.display}:")
        for sql in preview_sql(metric, the_source, the_period, config):
            click.echo(sql + ";\n")
    finally:
        the_source.close()


#: What a plugin can provide, as `kpi plugins` lists it.
KINDS = ("metrics", "entities", "connectors", "channels", "demo_data")


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_command(as_json):
    """List plugins, their versions and what each provides."""
    from ..plugins import plugin_version

    reg = context.registry()
    manager = reg.plugins.manager
    provided: dict[str, dict[str, list[str]]] = {}
    for kind in KINDS:
        for registration in getattr(reg, kind).values():
            provided.setdefault(registration.plugin, {}).setdefault(kind, []).append(registration.name)
    rows = []
    for name, plugin in manager.list_name_plugin():
        version = plugin_version(manager, plugin)
        rows.append({"name": name, "version": version or "built-in", **provided.get(name, {})})
    if as_json:
        click.echo(json.dumps({"plugins": rows, "problems": reg.problems}, indent=2))
        return
    for row in rows:
        parts = [f"{kind.replace('_', ' ')}: {', '.join(row[kind])}" for kind in KINDS if row.get(kind)]
        click.echo(f"{row['name']} ({row['version']})" + ("".join(f"\n    {p}" for p in parts)))
    for problem in reg.problems:
        click.echo(f"PROBLEM: {problem}")


COMMANDS = [metrics_command, plugins_command]
