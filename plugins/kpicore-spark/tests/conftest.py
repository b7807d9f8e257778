"""One Spark Connect server (``local[2]``) for the whole test session, and datasets written for it.

The server starts once, on a free port of 127.0.0.1, with its logs, warehouse and scratch space in a
temporary folder; the session fails loudly (not skips) when it does not answer within 3 minutes, and it is
stopped when the session ends.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest
from kpicore_spark import server as local_server

#: How long the server may take to come up on a loaded 2-core machine before the tests fail.
SERVER_START_TIMEOUT = 180.0


@pytest.fixture(scope="session")
def spark_server(tmp_path_factory):
    """The ``sc://127.0.0.1:PORT`` URL of a running Spark Connect server (``KPI_TEST_SPARK_URL`` names one
    already running instead, to save its start-up while working on the plugin)."""
    if os.environ.get("KPI_TEST_SPARK_URL"):
        yield os.environ["KPI_TEST_SPARK_URL"]
        return
    workdir = tmp_path_factory.mktemp("spark-connect")
    port = local_server.free_port()
    process = local_server.start(port, workdir, cores=2, memory="1g")
    try:
        try:
            took = local_server.wait_until_up(process, port, SERVER_START_TIMEOUT)
        except RuntimeError as error:
            log = (workdir / "server.log").read_text(errors="replace")[-3000:]
            pytest.fail(f"{error}; the end of its log ({workdir / 'server.log'}):\n{log}", pytrace=False)
        print(f"\nSpark Connect server up on port {port} in {took:.0f} s")
        yield f"sc://127.0.0.1:{port}"
    finally:
        local_server.stop(process)


@pytest.fixture(scope="session")
def spark_session(spark_server):
    """A Spark Connect session of the tests' own, to write datasets (kpicore's sources only read)."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support pandas.*")
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    from pyspark.sql import SparkSession

    session = SparkSession.builder.remote(spark_server).create()
    yield session
    session.stop()


def _instant(value):
    """A time as the instant the other test databases store (naive text is UTC there, as in kpicore.testing)."""
    if value is None:
        return None
    parsed = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def arrow_table(records: list[dict], entity, timestamps: str):
    """Rows as an Arrow table typed like a Spark table: times as ``TIMESTAMP`` ("timestamp"),
    ``TIMESTAMP_NTZ`` ("timestamp_ntz", the UTC wall clock, as PostgreSQL's ``timestamp`` holds it) or the
    ISO text as written ("text")."""
    import pyarrow as pa

    kinds = {c.name: c.kind for c in entity.columns} if entity else {}
    names = list(kinds)
    for record in records:
        names.extend(k for k in record if k not in names)
    arrays = []
    for name in names:
        values = [record.get(name) for record in records]
        kind = kinds.get(name)
        if kind is None:
            sample = next((v for v in values if v is not None), None)
            kind = "number" if isinstance(sample, int | float) and not isinstance(sample, bool) else "text"
        if kind == "timestamp":
            if timestamps == "text":
                arrays.append(pa.array(values, pa.string()))
            elif timestamps == "timestamp":
                arrays.append(pa.array([_instant(v) for v in values], pa.timestamp("us", tz="UTC")))
            else:
                arrays.append(
                    pa.array(
                        [_instant(v).replace(tzinfo=None) if v else None for v in values], pa.timestamp("us")
                    )
                )
        elif kind == "date":
            if timestamps == "text":
                arrays.append(pa.array(values, pa.string()))
            else:
                arrays.append(
                    pa.array([dt.date.fromisoformat(v) if v else None for v in values], pa.date32())
                )
        elif kind in ("number", "integer"):
            arrays.append(pa.array([None if v is None else float(v) for v in values], pa.float64()))
        elif kind == "id":
            arrays.append(pa.array(values, pa.int64()))
        elif kind == "boolean":
            arrays.append(pa.array(values, pa.bool_()))
        else:
            arrays.append(pa.array([None if v is None else str(v) for v in values], pa.string()))
    return pa.Table.from_arrays(arrays, names=names)


class SparkData:
    """Datasets written as Parquet on the local disk (the server shares it), as catalog tables or paths."""

    def __init__(self, session, folder):
        self.session = session
        self.folder = folder
        self.databases: list[str] = []

    def parquet(self, rows: dict[str, list[dict]], entities: dict, timestamps: str) -> dict[str, str]:
        """Write one Parquet file per entity; returns {entity: path}."""
        import pyarrow.parquet as pq

        folder = self.folder / f"{timestamps}-{uuid.uuid4().hex[:8]}"
        folder.mkdir()
        paths = {}
        for name, records in rows.items():
            path = folder / f"{name}.parquet"
            pq.write_table(arrow_table(records, entities.get(name), timestamps), path)
            paths[name] = str(path)
        return paths

    def database(self, rows: dict[str, list[dict]], entities: dict, timestamps: str) -> str:
        """A catalog database (``spark_test_...``) with one table per entity; returns its name."""
        name = f"spark_test_{uuid.uuid4().hex[:10]}"
        self.session.sql(f"CREATE DATABASE `{name}`").collect()
        self.databases.append(name)
        for table, path in self.parquet(rows, entities, timestamps).items():
            self.session.sql(f"CREATE TABLE `{name}`.`{table}` USING parquet LOCATION '{path}'").collect()
        return name

    def drop(self) -> None:
        for name in self.databases:
            self.session.sql(f"DROP DATABASE IF EXISTS `{name}` CASCADE").collect()


@pytest.fixture(scope="session")
def spark_data(spark_session, tmp_path_factory):
    data = SparkData(spark_session, tmp_path_factory.mktemp("spark-data"))
    yield data
    data.drop()


@pytest.fixture(autouse=True)
def no_installed_plugins(monkeypatch):
    """Tests register what they use; installed entry points never load on their own."""
    from kpicore import plugins, registry

    monkeypatch.setenv("KPI_LOAD_PLUGINS", "")
    monkeypatch.delenv("KPI_DEBUG", raising=False)
    monkeypatch.setattr(plugins, "_loaded", None)
    monkeypatch.setattr(registry, "_registry", None)
