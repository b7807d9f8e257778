"""``kpi metrics`` and ``kpi plugins``: what is installed and what it provides."""

from __future__ import annotations

import json
from typing import Any

import click

from ..errors import KpiError
from . import context


@click.command("metrics")
@click.option(
    "--details", "detail_name", metavar="METRIC", help="Show one metric's definition, rules and SQL."
)
@click.option(
    "--period", "-p", default="last-week", show_default=True, help="Period for the SQL shown by --details."
)
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
        rows.append(
            {
                "name": name,
                "title": metric.title,
                "unit": metric.unit,
                "better": metric.better,
                "entities": list(metric.entities(config)),
                "plugin": registration.plugin,
                "description": metric.description,
            }
        )
    if as_json:  # never translated
        click.echo(json.dumps(rows, indent=2))
        return
    from ..i18n import _, using
    from .output import stdout_console

    with using(config.locale):
        print_metrics([{**row, "description": _(row["description"])} for row in rows], stdout_console())


#: Columns a definition needs at least beside the identifiers, on a terminal.
_DEFINITION_MIN = 24


def print_metrics(rows, console) -> None:
    """`kpi metrics` as people read it: identifiers are never cut.

    On a pipe or a file, one plain tab-separated line per metric. On a terminal, a table whose
    definitions wrap; on a terminal too narrow for the names, one block per metric.
    """
    if not console.is_terminal:
        for row in rows:
            console.file.write("\t".join(_cells(row)) + "\n")
        return
    table = metrics_table(rows)
    needed = (
        sum(column.min_width or 0 for column in table.columns[:-1]) + 3 * len(table.columns) + _DEFINITION_MIN
    )
    if console.width >= needed:
        console.print(table)
        return
    import textwrap

    for row in rows:
        console.print(
            f"{row['name']}  ({row['unit']}, {row['better']} is better; {', '.join(row['entities'])}; "
            f"{row['plugin']})",
            overflow="ignore",
            crop=False,
            soft_wrap=True,
            markup=False,
            highlight=False,
        )
        console.print(
            textwrap.fill(
                row["description"],
                width=max(console.width - 4, 20),
                initial_indent="    ",
                subsequent_indent="    ",
            ),
            markup=False,
            highlight=False,
        )


def metrics_table(rows):
    """The rich table of `kpi metrics` on a terminal: names are never cut, long definitions wrap."""
    from rich.table import Table

    table = Table()
    for column, key in (
        ("Metric", "name"),
        ("Unit", "unit"),
        ("Better", "better"),
        ("Entities", None),
        ("Plugin", "plugin"),
    ):
        longest = max(
            (len(row[key]) if key else max(map(len, row["entities"]), default=0) for row in rows), default=0
        )
        table.add_column(column, no_wrap=key is not None, min_width=max(longest, len(column)))
    table.add_column("Definition", ratio=1, overflow="fold")
    for row in rows:
        table.add_row(*_cells(row))
    return table


#: How a measure's time column meets the period, in words.
_WINDOW_WORDS = {
    "in": "in the period",
    "before_end": "before the period's end",
    "all": "at any time",
    "missing": "is NULL",
}


def _details(reg, config, name, period, source):
    from ..compute import columns_read, preview_sql
    from ..i18n import _, using

    metric = reg.metric(name)
    measures = metric.resolved_measures(config)
    with using(config.locale):  # the title and definition in kpi.toml's language; the rest is technical
        click.echo(f"{metric.name}: {_(metric.title)}")
        click.echo(f"  definition: {_(metric.description)}")
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
    the_period = context.resolve_period(period, config.timezone, config.week_start)
    the_source = context.open_source(config, url, reg)
    try:
        for entity, columns in columns_read(metric, the_source, the_period, config).items():
            derived = " (derived)" if reg.entity(entity).derive is not None else ""
            click.echo(f"  reads {entity}{derived}: {', '.join(columns)}")
        click.echo(f"\nSQL for {the_period.label} and the period before, on {the_source.display}:")
        for sql in preview_sql(metric, the_source, the_period, config):
            click.echo(format_sql(sql) + ";\n")
    finally:
        the_source.close()


def format_sql(sql: str) -> str:
    """SQL laid out for people: one clause per line, nested parts indented (sqlparse)."""
    import sqlparse

    return sqlparse.format(sql, reindent=True, indent_width=2, wrap_after=100).strip()


#: What a plugin can provide, as `kpi plugins` lists it.
KINDS = ("metrics", "entities", "connectors", "channels", "demo_data", "settings", "insights")


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_command(as_json):
    """List plugins, their versions and what each provides."""
    from ..plugins import DEFAULT_PLUGINS, plugin_distribution

    reg = context.registry(allow_conflicts=True)
    assert reg.plugins is not None  # the process's registry is built from the loaded plugins
    manager = reg.plugins.manager
    provided: dict[str, dict[str, list[str]]] = {}
    for kind in KINDS:
        for registration in getattr(reg, kind).values():
            provided.setdefault(registration.plugin, {}).setdefault(kind, []).append(registration.name)
    rows: list[dict[str, Any]] = []
    for name, plugin in manager.list_name_plugin():
        distribution = plugin_distribution(manager, plugin)
        rows.append(
            {
                "name": name,
                "distribution": distribution[0] if distribution else None,
                "version": distribution[1]
                if distribution
                else ("built-in" if name in DEFAULT_PLUGINS else None),
                "entry_point": name if distribution else None,
                **provided.get(name, {}),
            }
        )
    if as_json:
        click.echo(json.dumps({"plugins": rows, "problems": reg.problems}, indent=2))
        return
    for row in rows:
        parts = [f"{kind.replace('_', ' ')}: {', '.join(row[kind])}" for kind in KINDS if row.get(kind)]
        if row["distribution"]:
            heading = f"{row['distribution']} {row['version']} (entry point {row['entry_point']})"
        else:
            heading = f"{row['name']} ({'built-in' if row['version'] else 'registered in process'})"
        click.echo(heading + "".join(f"\n    {p}" for p in parts))
    for problem in reg.problems:
        click.echo(f"PROBLEM: {problem}")


COMMANDS = [metrics_command, plugins_command]


def _cells(row: dict) -> list[str]:
    """A metric's cells in the listing: name, unit, better, entities, plugin, definition."""
    return [
        row["name"],
        row["unit"],
        row["better"],
        ", ".join(row["entities"]),
        row["plugin"],
        row["description"],
    ]
