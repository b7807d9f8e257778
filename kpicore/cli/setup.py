"""``kpi init``, ``kpi check`` and ``kpi demo``: getting set up."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import ConfigError, KpiError, MappingError
from . import context

INIT_TEMPLATE = '''\
# kpi.toml: kpicore's configuration. Every setting is optional; the defaults are shown.
# Secrets never go here: they come from the environment (SLACK_BOT_TOKEN, KPI_SMTP_PASSWORD, ...).

timezone = "UTC"            # business timezone: periods, schedules, display
currency = "USD"            # display only
locale = "en"               # number, currency and date formatting
gross_margin = 1.0          # used by clv and clv_predictive
# state_url = "sqlite:///kpi-state.db"   # kpicore's own database (relative to this file)
# templates_dir = "templates"            # your digest templates override the built-in ones by name

[source]
# Any SQLAlchemy URL, a .db/.sqlite file, or a folder of <entity>.csv / .parquet files.
# A URL may reference environment variables: "postgresql://kpi:${DB_PASSWORD}@db/shop".
url = "{url}"
timezone = "UTC"            # timezone of naive timestamps in the source
timeout = 60                # seconds before a query is cancelled

# Map an entity to your own table, renaming columns (unlisted columns keep their names):
# [entities.customers]
# table = "crm_customers"
# columns = {{ customer_id = "id", signup_at = "created_at", churned_at = "cancelled_at" }}
# dimensions = ["region", "plan"]
#
# ... or to a query:
# [entities.orders]
# query = "SELECT id AS order_id, customer_id, paid_at AS ordered_at, total_cents FROM shop_orders"
# columns = {{ amount = "total_cents" }}
# scale = {{ amount = 0.01 }}

# [targets]
# nps = {{ min = 40 }}
# churn_rate = {{ max = 2.5 }}
'''

DEMO_CONFIG = '''\
# Written by `kpi demo`: points kpicore at the sample database. Edit freely.
timezone = "UTC"
currency = "USD"

[source]
url = "kpi-demo.db"
'''

DEMO_METRICS = ("revenue", "new_customers", "churn_rate", "nps", "csat")


@click.command("init")
@click.option("--source", "url", default="kpi-demo.db", show_default=True, help="Source URL to write.")
@click.option("--force", is_flag=True, help="Overwrite an existing kpi.toml.")
def init_command(url, force):
    """Write a commented kpi.toml in the current folder."""
    path = Path.cwd() / "kpi.toml"
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists: edit it, or pass --force to overwrite it")
    path.write_text(INIT_TEMPLATE.format(url=url.replace('"', '\\"')), encoding="utf-8")
    click.echo(f"Wrote {path}. Next: `kpi check`, then `kpi compute all --period last-week`.")


@click.command("check")
@context.source_option
@context.config_option
@click.option(
    "--indexes", is_flag=True,
    help="Also tell, for every mapped time column, whether the source has an index on it, "
    "and print the CREATE INDEX statement to add when it has not.",
)
def check_command(source, config_path, indexes):
    """Validate kpi.toml, the plugins, and that every mapped entity and column resolves in the source."""
    config = context.load(config_path)
    click.echo(f"config: {config.path or 'no kpi.toml (defaults)'}: ok")
    reg = context.registry()
    problems = list(reg.problems)
    the_source = context.open_source(config, source, reg)
    from ..source import EntityUnavailable  # after opening: the source has imported SQLAlchemy already

    click.echo(f"source: {the_source.display}")
    unavailable = {}
    try:
        for name, registration in sorted(reg.entities.items()):
            entity = registration.item
            try:
                relation = the_source.relation(name)
            except MappingError as error:
                problems.append(str(error))
                click.echo(f"  {name}: ERROR {error}")
                continue
            except KpiError:
                raise
            except EntityUnavailable as error:
                unavailable[name] = str(error)
                click.echo(f"  {name}: not in this source ({error})")
                continue
            extra = f"; dimensions: {', '.join(relation.dimensions)}" if relation.dimensions else ""
            kind = "derived" if entity.derive else relation.origin
            click.echo(f"  {name}: ok ({kind}{extra})")
        if indexes:
            _echo_index_advice(the_source, [n for n in sorted(reg.entities) if n not in unavailable])
    finally:
        the_source.close()
    for metric_name, registration in sorted(reg.metrics.items()):
        missing = [e for e in registration.item.entities(config) if e in unavailable]
        if missing:
            click.echo(f"  metric {metric_name}: unavailable (needs {', '.join(missing)})")
    for problem in problems:
        click.echo(f"PROBLEM: {problem}", err=True)
    if problems:
        sys.exit(2)
    click.echo("OK")


def _echo_index_advice(the_source, entity_names) -> None:
    """Print, for each mapped time column, its index or the statement that would add one."""
    from ..indexes import index_advice

    advice = index_advice(the_source, entity_names)
    click.echo("indexes on time columns:")
    for item in advice:
        where = f"{item.table}.{item.source_column}" if item.table and item.source_column else item.entity
        label = f"  {item.entity}.{item.column}"
        if item.index:
            click.echo(f"{label}: indexed ({item.index} on {where})")
        elif item.missing:
            click.echo(f"{label}: NO INDEX on {where}; add one with:\n    {item.create}")
        else:
            click.echo(f"{label}: {item.note}")
    missing = [item for item in advice if item.missing]
    if missing:
        click.echo(f"{len(missing)} time column(s) without an index: period filters on them scan the whole table.")


@click.command("demo")
@click.option("--period", "-p", default="last-week", show_default=True, help="Period to show.")
def demo_command(period):
    """Create sample data (kpi-demo.db), a kpi.toml if there is none, and show last week's KPIs."""
    from ..compute import compute, select_metrics
    from ..config import load_config
    from ..demo_data import generate_demo_database
    from ..state import store_results
    from .output import print_table

    folder = Path.cwd()
    database = folder / context.DEMO_DATABASE
    counts = generate_demo_database(database)
    click.echo(f"Wrote {database.name}: " + ", ".join(f"{n:,} {table}" for table, n in counts.items()), err=True)
    config_path = folder / "kpi.toml"
    if not config_path.exists():
        config_path.write_text(DEMO_CONFIG, encoding="utf-8")
        click.echo("Wrote kpi.toml pointing at it.", err=True)
    config = load_config(config_path)
    reg = context.registry()
    context.warn_problems(reg)
    the_period = context.resolve_period(period, config.timezone)
    the_source = context.open_source(config, str(database), reg)
    try:
        results = compute(select_metrics(DEMO_METRICS, reg), the_period, the_source, config=config, trend=12)
    finally:
        the_source.close()
    store_results(config, results, the_source.display)
    print_table(results, config.currency)
    click.echo(
        "Next: kpi compute nps --period last-week --by region | kpi metrics | kpi compute all --format json",
        err=True,
    )


COMMANDS = [init_command, check_command, demo_command]
