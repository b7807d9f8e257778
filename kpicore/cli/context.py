"""What every command needs: the config, the registry, the source, the period."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import ConfigError

DEMO_DATABASE = "kpi-demo.db"

config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="kpi.toml to use (default: ./kpi.toml)."
)
source_option = click.option(
    "--source", help="SQLAlchemy URL, SQLite file or folder of CSV/Parquet files (default: [source] url, else the demo database)."
)
tz_option = click.option("--tz", help="Business timezone for periods (default: kpi.toml timezone, else UTC).")


def load(config_path):
    from ..config import load_config

    return load_config(config_path)


def registry():
    from ..registry import get_registry

    return get_registry()


def warn_problems(reg) -> None:
    for problem in reg.problems:
        click.echo(f"Warning: {problem}", err=True)


def source_url(config, source: str | None) -> str:
    if source:
        return source
    if config.source.url:
        return config.source.url
    demo = config.base_dir / DEMO_DATABASE
    if demo.is_file():
        return str(demo)
    raise ConfigError(
        "no data source: pass --source URL, set [source] url in kpi.toml, or run `kpi demo` for sample data"
    )


def open_source(config, source: str | None, reg):
    from ..connectors import open_source as open_url

    return open_url(source_url(config, source), config.source, reg)


def timezone(config, tz: str | None) -> str:
    from ..periods import get_timezone

    name = tz or config.timezone
    get_timezone(name)
    return name


def resolve_period(text: str, tz: str):
    from ..periods import parse_period

    return parse_period(text, tz)


def is_terminal() -> bool:
    import sys

    return sys.stderr.isatty()


__all__ = ["Path"]
