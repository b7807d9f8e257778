"""A pytest plugin for testing metrics against rows declared inline (entry point ``pytest11``).

    def test_late_orders(kpi):
        result = kpi.compute("late_order_rate", "2026-W47", orders=[
            {"order_id": 1, "customer_id": 1, "ordered_at": "2026-11-16 09:00:00", "amount": 10,
             "shipped_at": "2026-11-20 00:00:00", "promised_at": "2026-11-18 00:00:00"},
        ])
        assert result.value == 100.0

``kpi`` writes the rows to a fresh SQLite file (or, with ``kpi.backend = "postgresql"``, ``"mysql"`` or
``"csv"``, to a throw-away PostgreSQL schema, MySQL/MariaDB database or a CSV folder) and computes through the real
engine. Extra keys become extra columns. Register your plugin for the test with ``kpi.register(plugin)``
(a module or object with hookimpls), or the installed one with ``kpi.register_entry_point("name")``.
Installed entry-point plugins are never loaded on their own, so tests do not depend on what is installed.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

POSTGRES_URL = os.environ.get("KPI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
#: The MySQL/MariaDB server tests create their throw-away databases on (the database part is replaced).
MYSQL_URL = os.environ.get("KPI_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


def mysql_url(database: str) -> str:
    """``MYSQL_URL`` on another database."""
    from sqlalchemy.engine import make_url

    return make_url(MYSQL_URL).set(database=database).render_as_string(hide_password=False)


def create_mysql_database(prefix: str = "kpi_test") -> str:
    """Create a MySQL database with a random name and return its name (drop it with ``drop_mysql_database``)."""
    import uuid

    import sqlalchemy as sa

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(MYSQL_URL)
    with engine.begin() as connection:
        connection.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    engine.dispose()
    return name


def drop_mysql_database(name: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(MYSQL_URL)
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
    engine.dispose()


def mysql_writer(url: str):
    """An engine that writes to MySQL in UTC (TIMESTAMP values are UTC instants)."""
    import sqlalchemy as sa

    return sa.create_engine(url, connect_args={"init_command": "SET time_zone = '+00:00'"})


def _sql_type(kind: str, dialect: str, timestamps: str):
    import sqlalchemy as sa

    if dialect == "sqlite" and kind in ("number", "integer"):
        return _sqlite_real()()  # REAL affinity, but any value may be written: sources are untidy

    if dialect == "mysql":
        from sqlalchemy.dialects import mysql

        if kind == "timestamp":  # TIMESTAMP: an instant (UTC); DATETIME: a naive time
            return mysql.TIMESTAMP(fsp=6) if timestamps == "timestamptz" else mysql.DATETIME(fsp=6)
        if kind in ("number", "integer"):
            return mysql.DOUBLE()  # FLOAT would round 19.99
    if kind == "timestamp":
        if dialect == "sqlite":
            return sa.Text()
        return sa.DateTime(timezone=timestamps == "timestamptz")
    if kind == "date":
        return sa.Text() if dialect == "sqlite" else sa.Date()
    if kind in ("number",):
        return sa.Float()
    if kind == "integer":
        return sa.Float()  # so that invalid non-integer values can be written and seen
    if kind == "boolean":
        return sa.Integer() if dialect == "sqlite" else sa.Boolean()
    if kind == "id":
        return sa.Integer()
    return sa.Text()


def _value(value, kind: str, dialect: str):
    if value is None:
        return None
    if kind == "timestamp" and dialect != "sqlite" and isinstance(value, str):
        parsed = dt.datetime.fromisoformat(value)  # Python 3.11 reads "Z" and offsets
        parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
        return parsed.astimezone(dt.UTC).replace(tzinfo=None) if dialect == "mysql" else parsed
    if kind == "timestamp" and dialect == "mysql" and isinstance(value, dt.datetime) and value.tzinfo:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if kind == "date" and dialect != "sqlite" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    if kind == "timestamp" and dialect == "sqlite" and isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return value


@functools.cache
def _sqlite_real():
    import sqlalchemy as sa

    class SqliteReal(sa.types.UserDefinedType):
        """A REAL column that passes values through unconverted (no float() on bind)."""

        cache_ok = True

        def get_col_spec(self, **kw):
            return "REAL"

    return SqliteReal


def _columns_written(entity, records, only_given_columns: bool = False):
    """The entity's columns a table gets: all of them; with ``only_given_columns``, an optional one
    (``required=False``) only when some record has it, so a test can leave it out as a real source may."""
    if entity is None:
        return []
    if not only_given_columns:
        return list(entity.columns)
    return [c for c in entity.columns if c.required or any(c.name in r for r in records)]


def write_tables(
    engine,
    rows: dict[str, list[dict]],
    entities: dict,
    *,
    schema: str | None = None,
    timestamps: str = "timestamptz",
    only_given_columns: bool = False,
) -> None:
    """Create one table per entity from rows (entity columns typed by kind, extra columns as text)."""
    import sqlalchemy as sa

    metadata = sa.MetaData(schema=schema)
    dialect = engine.dialect.name
    tables = {}
    for name, records in rows.items():
        entity = entities.get(name)
        kinds = {c.name: c.kind for c in _columns_written(entity, records, only_given_columns)}
        names = list(kinds)
        for record in records:
            names.extend(k for k in record if k not in names)
        columns = []
        for column_name in names:
            kind = kinds.get(column_name)
            if kind is None:
                sample = next((r[column_name] for r in records if r.get(column_name) is not None), None)
                kind = (
                    "number" if isinstance(sample, (int, float)) and not isinstance(sample, bool) else "text"
                )
            columns.append(sa.Column(column_name, _sql_type(kind, dialect, timestamps)))
            kinds[column_name] = kind
        tables[name] = (sa.Table(name, metadata, *columns), kinds)
    metadata.create_all(engine)
    with engine.begin() as connection:
        for name, records in rows.items():
            table, kinds = tables[name]
            if records:
                connection.execute(
                    table.insert(),
                    [
                        {name: _value(r.get(name), kinds[name], dialect) for name in table.columns.keys()}
                        for r in records
                    ],
                )


def write_csv_folder(
    folder: Path, rows: dict[str, list[dict]], entities: dict, *, only_given_columns: bool = False
) -> None:
    """One ``<entity>.csv`` per entity; None becomes an empty cell."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, records in rows.items():
        entity = entities.get(name)
        names = [column.name for column in _columns_written(entity, records, only_given_columns)]
        for record in records:
            names.extend(k for k in record if k not in names)
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(names)
            for record in records:
                writer.writerow(["" if record.get(k) is None else _csv_cell(record.get(k)) for k in names])


def _csv_cell(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def run_kpi_process(folder, *args: str, env: dict[str, str] | None = None, timeout: float = 120):
    """`kpi ARGS` as a real process in ``folder`` (the ``kpi`` beside this Python); the
    CompletedProcess, with text output. ``env`` defaults to this process's environment."""
    import subprocess
    import sys

    kpi = str(Path(sys.executable).with_name("kpi"))
    return subprocess.run(
        [kpi, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


class KpiHarness:
    """Declare rows, compute metrics over them through the real engine and connectors."""

    def __init__(self, tmp_path: Path, backend: str = "sqlite"):
        self.tmp_path = tmp_path
        self.backend = backend
        self.timestamps = "timestamptz"
        self._plugins: list[Any] = []
        self._sources: list[Any] = []
        self._schemas: list[str] = []
        self._databases: list[str] = []

    def register(self, plugin) -> None:
        """Register a plugin (module or object with hookimpls) for this test only."""
        self._plugins.append(plugin)

    def register_entry_point(self, name: str) -> None:
        """Register the installed plugin behind entry point ``name`` of the ``kpicore`` group.

        Proves the plugin's packaging: the test fails when the distribution is not installed or its
        pyproject names the wrong module.
        """
        from importlib import metadata

        from .plugins import ENTRY_POINT_GROUP

        for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if entry_point.name == name:
                self.register(entry_point.load())
                return
        raise LookupError(
            f"no installed plugin with entry point {name!r} in group {ENTRY_POINT_GROUP!r}: `pip install -e .` first"
        )

    def registry(self):
        from .plugins import new_plugin_manager
        from .registry import build_registry

        loaded = new_plugin_manager(load_entry_points=False)
        for plugin in self._plugins:
            loaded.manager.register(plugin)
        return build_registry(loaded, strict=True)

    def source(
        self,
        rows: dict[str, list[dict]],
        *,
        source_config=None,
        registry=None,
        only_given_columns: bool = False,
    ):
        """Write rows to the backend and open them as a Source."""
        import sqlalchemy as sa

        from .config import SourceConfig
        from .connectors import open_source

        registry = registry or self.registry()
        entities = {name: r.item for name, r in registry.entities.items()}
        config = source_config or SourceConfig(base_dir=self.tmp_path)
        folder = self.tmp_path / f"source-{uuid.uuid4().hex[:8]}"
        if self.backend == "sqlite":
            path = folder.with_suffix(".db")
            engine = sa.create_engine(f"sqlite:///{path}")
            write_tables(engine, rows, entities, only_given_columns=only_given_columns)
            engine.dispose()
            url = str(path)
        elif self.backend == "csv":
            write_csv_folder(folder, rows, entities, only_given_columns=only_given_columns)
            url = str(folder)
        elif self.backend == "postgresql":
            schema = f"kpi_test_{uuid.uuid4().hex[:10]}"
            engine = sa.create_engine(POSTGRES_URL)
            with engine.begin() as connection:
                connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
            self._schemas.append(schema)
            write_tables(
                engine,
                rows,
                entities,
                schema=schema,
                timestamps=self.timestamps,
                only_given_columns=only_given_columns,
            )
            engine.dispose()
            config.schema = schema
            url = POSTGRES_URL
        elif self.backend == "mysql":
            database = create_mysql_database()
            self._databases.append(database)
            url = mysql_url(database)
            engine = mysql_writer(url)
            write_tables(engine, rows, entities, timestamps=self.timestamps)
            engine.dispose()
        else:
            raise ValueError(f"unknown backend {self.backend!r}")
        source = open_source(url, config, registry)
        self._sources.append(source)
        return source

    def compute(
        self,
        metrics,
        period: str,
        *,
        tz: str = "UTC",
        now=None,
        by=None,
        trend=None,
        config=None,
        source_config=None,
        only_given_columns: bool = False,
        **rows,
    ):
        """Compute one metric (returns its MetricResult) or a list of metrics (returns a dict by name).

        Tables get every column of their entity; with ``only_given_columns``, optional columns no row
        has are left out, as a source without them would be.
        """
        from .compute import compute, select_metrics
        from .config import Config
        from .periods import parse_period

        registry = self.registry()
        names = [metrics] if isinstance(metrics, str) else list(metrics)
        source = self.source(
            rows, source_config=source_config, registry=registry, only_given_columns=only_given_columns
        )
        results = compute(
            select_metrics(names, registry),
            parse_period(period, tz, now=now),
            source,
            config=config or Config(),
            by=by,
            trend=trend,
        )
        by_name = {r.metric: r for r in results}
        return by_name[names[0]] if isinstance(metrics, str) else by_name

    def close(self) -> None:
        import sqlalchemy as sa

        for source in self._sources:
            source.close()
        if self._schemas:
            engine = sa.create_engine(POSTGRES_URL)
            with engine.begin() as connection:
                for schema in self._schemas:
                    connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            engine.dispose()
        for database in self._databases:
            drop_mysql_database(database)


def comparable(result) -> dict:
    """``result.to_json()`` with its warnings in a fixed order, for comparing two sources' results."""
    data = result.to_json()
    data["warnings"] = sorted((w["message"], w["count"]) for w in data["warnings"])
    return data


def same_values(left, right) -> bool:
    """Whether two results' JSON (or parts of it) are equal, floats to 1e-12: the same metric computed on two
    sources, where one database sums in another order than the other."""
    if isinstance(left, float) or isinstance(right, float):
        return right == pytest.approx(left, rel=1e-12, abs=1e-12)
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(same_values(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(same_values(a, b) for a, b in zip(left, right, strict=False))
    return left == right


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 for a fake API (``handler_class`` answers), run in a thread:
    ``start()`` and ``stop()``, or ``with``. ``die()`` closes the listening socket, so new connections are
    refused (a server going away mid-sync); ``root`` is its URL, ending with ``/``."""

    def __init__(self, handler_class, port: int = 0) -> None:
        import threading
        from http.server import ThreadingHTTPServer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler_class)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.root = f"http://127.0.0.1:{self.port}/"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.dead = False

    def start(self):
        self.thread.start()
        return self

    def die(self) -> None:
        """Stop serving and close the listening socket: new connections are refused."""
        self.httpd.shutdown()
        self.httpd.server_close()

    def die_mid_answer(self, handler, body: bytes) -> None:
        """From ``handler`` (answering a request): headers and half of ``body``, then the connection
        drops and the server goes away (``die``)."""
        import socket
        import threading

        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body[: len(body) // 2])
        handler.wfile.flush()
        handler.close_connection = True
        self.dead = True
        threading.Thread(target=self.die, daemon=True).start()
        handler.connection.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        if not self.dead:
            self.dead = True
            self.httpd.shutdown()
        self.httpd.server_close()
        if self.thread.is_alive():
            self.thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def plugin_registry(plugin, name: str):
    """A registry of kpicore's built-ins and ``plugin`` (a module or object with hookimpls) only, strict:
    entry points are not loaded."""
    from kpicore.plugins import new_plugin_manager
    from kpicore.registry import build_registry

    loaded = new_plugin_manager(load_entry_points=False)
    loaded.manager.register(plugin, name=name)
    return build_registry(loaded, strict=True)


def comparable_rows(rows) -> list[tuple]:
    """Rows (dicts) as sorted tuples of sorted (column, value) pairs, each value in one form whatever the
    database gave back: a time (or text that reads as one) as naive UTC ISO text to the millisecond,
    a boolean or a whole float as an integer."""

    def value(v):
        if isinstance(v, str) and len(v) >= 19 and v[4] == "-" and v[10] in " T":
            v = dt.datetime.fromisoformat(v)
        if isinstance(v, dt.datetime):
            v = v.astimezone(dt.UTC).replace(tzinfo=None) if v.tzinfo else v
            return v.isoformat(timespec="milliseconds")
        if isinstance(v, bool):
            return int(v)
        if isinstance(v, float) and v.is_integer():
            return int(v)
        return v

    return sorted((tuple(sorted((k, value(v)) for k, v in row.items())) for row in rows), key=repr)


def comparable_tables(tables: dict) -> dict[str, list[tuple]]:
    """``{table: comparable_rows(rows)}`` of ``{table: rows}``."""
    return {name: comparable_rows(rows) for name, rows in tables.items()}


def table_rows(path, names) -> dict[str, list[tuple]]:
    """The ``comparable_rows`` of each of the tables ``names`` in the SQLite file ``path``."""
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            return comparable_tables(
                {
                    name: [dict(r._mapping) for r in connection.execute(sa.text(f"SELECT * FROM {name}"))]
                    for name in names
                }
            )
    finally:
        engine.dispose()


def metric_numbers(source, registry, period: str, base_dir=None) -> dict[str, tuple]:
    """``{metric: (value, previous, n)}`` of every metric of ``registry`` that computes for ``period``
    (UTC). ``source`` is a parsed config (its configured source is read) or a source URL, read with
    default settings (relative to ``base_dir``)."""
    from kpicore.compute import compute, select_metrics
    from kpicore.config import SourceConfig, parse_config
    from kpicore.connectors import open_configured_source, open_source
    from kpicore.periods import parse_period

    if isinstance(source, str):
        config = parse_config({})
        opened = open_source(source, SourceConfig(base_dir=base_dir), registry)
    else:
        config = source
        opened = open_configured_source(config, registry)
    try:
        results = compute(
            select_metrics(["all"], registry), parse_period(period, "UTC"), opened, config=config
        )
    finally:
        opened.close()
    return {r.metric: (r.value, r.previous, r.n) for r in results if r.ok}


@pytest.fixture
def kpi(tmp_path):
    """A KpiHarness on SQLite; set ``kpi.backend`` to "postgresql", "mysql" or "csv" to switch."""
    harness = KpiHarness(tmp_path)
    yield harness
    harness.close()


@pytest.fixture(params=["sqlite", "postgresql", "mysql", "csv"])
def kpi_all_backends(request, tmp_path):
    """A KpiHarness run once per backend: SQLite, PostgreSQL, MySQL/MariaDB and a CSV folder."""
    harness = KpiHarness(tmp_path, request.param)
    yield harness
    harness.close()
