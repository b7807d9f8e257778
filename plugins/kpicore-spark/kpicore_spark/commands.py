"""``kpi spark``: write a SQLite database (the demo's) as Parquet files for Spark, run a local server."""

from __future__ import annotations

from pathlib import Path

import click


@click.group()
def spark():
    """Apache Spark sources (the kpicore-spark plugin)."""


@spark.command("parquet")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--from",
    "database",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("kpi-demo.db"),
    show_default=True,
    help="The SQLite database to copy (kpi demo writes kpi-demo.db).",
)
@click.option(
    "--timezone",
    default="UTC",
    show_default=True,
    help="The timezone of the database's times written without an offset.",
)
def parquet(folder: Path, database: Path, timezone: str):
    """Write each table of a SQLite database as FOLDER/<table>.parquet, times as TIMESTAMP, and print the
    kpi.toml [entities.*] tables that map them by path."""
    from kpicore.errors import ConfigError
    from kpicore.periods import get_timezone

    from .parquet import write_parquet

    if not database.is_file():
        raise ConfigError(f"SQLite database {database} not found: run `kpi demo` first, or pass --from")
    written = write_parquet(database, folder, get_timezone(timezone))
    click.echo(f"# {len(written)} tables written as Parquet under {folder.resolve()}; add to kpi.toml:")
    for table, (path, rows) in written.items():
        click.echo(f'[entities.{table}]\npath = "{path}"  # {rows} rows')


@spark.command("server")
@click.option("--port", type=int, default=15002, show_default=True, help="The port to listen on (127.0.0.1).")
@click.option("--cores", type=int, default=2, show_default=True, help="Worker threads: local[CORES].")
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Logs, warehouse and scratch space (default: a temporary folder).",
)
def server(port: int, cores: int, workdir: Path | None):
    """Run a local Spark Connect server (from the pyspark package) until Ctrl-C."""
    from . import server as local_server

    args = ["--port", str(port), "--cores", str(cores)] + (["--workdir", str(workdir)] if workdir else [])
    raise SystemExit(local_server.main(args))
