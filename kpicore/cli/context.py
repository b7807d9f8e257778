"""What every command needs: the config, the registry, the source, the period."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..connectors import DEMO_DATABASE

if TYPE_CHECKING:
    from ..registry import Registry

config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="kpi.toml to use (default: ./kpi.toml)."
)
source_option = click.option(
    "--source",
    help="SQLAlchemy URL, SQLite file or folder of CSV/Parquet files (default: [source] url, else the demo database).",
)
locale_option = click.option(
    "--locale",
    metavar="LOCALE",
    help="Language and number formats of what people read: en, ml_IN, bn_BD, fa_IR, ig_NG "
    "(default: kpi.toml locale). JSON is never translated.",
)


def apply_locale(config, locale: str | None):
    """``config`` with ``--locale`` in effect (checked: an unknown locale is a ConfigError)."""
    if locale:
        from ..config import check_locale

        check_locale(locale, "--locale")
        config.locale = locale
    return config


wide_option = click.option(
    "--wide",
    is_flag=True,
    help="Show every column of the table (trend, based on, target...), however wide; by default the "
    "lesser columns fold away to fit the terminal (or 80 columns on a pipe).",
)

tz_option = click.option("--tz", help="Business timezone for periods (default: kpi.toml timezone, else UTC).")
table_or_json_option = click.option(
    "--format",
    "output",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table for people, json for machines.",
)


def load(config_path):
    """The configuration; a warning on stderr for each literal secret in a file others can read."""
    from ..config import exposed_secrets, find_config, load_config

    config = load_config(config_path)
    path = find_config(config_path)
    if path is not None:
        for warning in exposed_secrets(path):
            click.echo(f"Warning: {warning}", err=True)
    return config


def registry(*, allow_conflicts: bool = False) -> Registry:
    """The plugins' registry; two plugins registering one name stops the command (PluginError), except
    with ``allow_conflicts`` (``kpi plugins`` and ``kpi check`` report it instead)."""
    from ..registry import get_registry

    return get_registry(allow_conflicts=allow_conflicts)


def warn_problems(reg) -> None:
    for problem in reg.problems:
        click.echo(f"Warning: {problem}", err=True)


def source_url(config, source: str | None) -> str:
    from ..connectors import configured_source_url

    return configured_source_url(config, source)


def open_source(config, source: str | None, reg: Registry):
    from ..connectors import open_configured_source

    sync_first(config, source, reg)
    return open_configured_source(config, reg, source)


def sync_first(config, source: str | None, reg) -> None:
    """A REST source (agilecrm://, ...) whose staging data is older than [sync] max_age is synced first."""
    from ..sync import sync_if_stale

    sync_if_stale(config, reg, source, echo=lambda line: click.echo(line, err=True))


def timezone(config, tz: str | None) -> str:
    from ..periods import get_timezone

    name = tz or config.timezone
    get_timezone(name)
    return name


def resolve_period(text: str, tz: str, week_start: str | None = None):
    from ..periods import parse_period

    return parse_period(text, tz, week_start=week_start)


def note_future(period) -> None:
    """A note on stderr when ``period`` has not begun: its values are zeros, not data."""
    from ..clock import now

    if period.start > now():
        click.echo(
            f"Note: {period.label} has not begun yet (it starts {period.start:%Y-%m-%d}): there is no data "
            "for it, so counts and sums show 0.",
            err=True,
        )


def exit_when_none_computed(results) -> None:
    """Exit code 2 when none of the metrics asked for could be computed (a mapping problem: the
    entities they need are not in the source); 0 when all or some were."""
    import sys

    if results and not any(result.ok for result in results):
        click.echo(
            "Error: none of the metrics asked for could be computed in this source (reasons above); "
            "`kpi check` shows which entities it lacks.",
            err=True,
        )
        sys.exit(2)


def is_terminal() -> bool:
    import sys

    return sys.stderr.isatty()


__all__ = ["DEMO_DATABASE"]
