"""A Spark source as a new user meets it when something is wrong: `kpi` (a real process) says what, where and
what to do in one line, and never shows the Spark Connect token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kpicore_spark import server as local_server

KPI = str(Path(sys.executable).with_name("kpi"))
TOKEN = "tok-do-not-leak-4711"


def kpi(*args, cwd, toml=""):
    (Path(cwd) / "kpi.toml").write_text(toml)
    environment = {**os.environ, "KPI_LOAD_PLUGINS": "spark"}
    environment.pop("KPI_DEBUG", None)
    done = subprocess.run(
        [KPI, *args], check=False, cwd=cwd, env=environment, capture_output=True, text=True, timeout=180
    )
    return done.returncode, done.stdout, done.stderr


def one_line(code, out, err) -> str:
    assert code != 0, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert TOKEN not in out + err
    return lines[0]


def test_no_server_running(tmp_path):
    port = local_server.free_port()  # nothing listens there
    line = one_line(
        *kpi(
            "compute",
            "revenue",
            "--period",
            "2026-W47",
            "--source",
            f"sc://127.0.0.1:{port}/;token={TOKEN}",
            cwd=tmp_path,
        )
    )
    assert f"no Spark Connect server answers at 127.0.0.1:{port}" in line, line
    assert "token=***" in line, line


@pytest.fixture(scope="module")
def shop(spark_data):
    """A catalog database whose orders table has a BIGINT ordered_at (the wrong type for a time)."""
    from kpicore.plugins import new_plugin_manager
    from kpicore.registry import build_registry

    entities = {
        name: r.item
        for name, r in build_registry(new_plugin_manager(load_entry_points=False)).entities.items()
    }
    rows = {"orders": [{"order_id": 1, "customer_id": 1, "ordered_at": "2026-11-17 10:00:00", "amount": 5.0}]}
    database = spark_data.database(rows, entities, "timestamp")
    spark_data.session.sql(
        f"CREATE TABLE `{database}`.`tickets` USING parquet AS SELECT 1L AS ticket_id, "
        "1L AS customer_id, 1795000000L AS opened_at, CAST(NULL AS TIMESTAMP) AS resolved_at, "
        "1.0D AS contacts, false AS escalated"
    ).collect()
    return database


def test_unknown_database(spark_server, tmp_path):
    line = one_line(
        *kpi(
            "compute",
            "revenue",
            "--period",
            "2026-W47",
            "--source",
            spark_server,
            cwd=tmp_path,
            toml='[source]\nschema = "no_such_db"\n',
        )
    )
    assert "no database 'no_such_db'" in line and "[source] schema" in line, line


def test_a_token_sent_to_a_server_without_tls(spark_server, tmp_path):
    """A token makes the client speak TLS; a plain-text server refuses the handshake: one line, no token."""
    line = one_line(
        *kpi(
            "compute",
            "revenue",
            "--period",
            "2026-W47",
            "--source",
            f"{spark_server}/;token={TOKEN}",
            cwd=tmp_path,
        )
    )
    assert line.startswith(f"Error: source {spark_server}/;token=***: ") and "handshake" in line.lower(), line


def test_a_mapped_table_that_is_missing(spark_server, shop, tmp_path):
    toml = f'[source]\nschema = "{shop}"\n[entities.orders]\ntable = "orderz"\n'
    line = one_line(
        *kpi("compute", "revenue", "--period", "2026-W47", "--source", spark_server, cwd=tmp_path, toml=toml)
    )
    assert "table 'orderz' not found" in line, line


def test_a_time_column_of_the_wrong_type(spark_server, shop, tmp_path):
    _code, out, err = kpi(
        "compute",
        "escalation_rate",
        "--period",
        "2026-W47",
        "--format",
        "json",
        "--source",
        spark_server,
        cwd=tmp_path,
        toml=f'[source]\nschema = "{shop}"\n',
    )
    assert TOKEN not in out + err
    text = out + err
    assert "column 'opened_at'" in text and "is BIGINT, not a time" in text, text


def test_a_path_that_does_not_exist(spark_server, tmp_path):
    toml = f'[entities.orders]\npath = "{tmp_path / "nowhere.parquet"}"\n'
    line = one_line(
        *kpi("compute", "revenue", "--period", "2026-W47", "--source", spark_server, cwd=tmp_path, toml=toml)
    )
    assert "[entities.orders] path" in line and "nowhere.parquet" in line and "cannot be read" in line, line


def test_a_query_past_the_statement_timeout_is_stopped(spark_server, tmp_path):
    """The adapter's timer stops the Spark job (interruptTag) and kpicore says which limit it hit."""
    query = (
        "SELECT id AS order_id, id AS customer_id, timestamp_seconds(1795000000 + id % 1000) AS ordered_at, "
        "CAST(id AS DOUBLE) AS amount FROM range(0, 100000000000)"
    )
    toml = f'[source]\ntimeout = 3\n[entities.orders]\nquery = "{query}"\n'
    line = one_line(
        *kpi("compute", "revenue", "--period", "2026-W47", "--source", spark_server, cwd=tmp_path, toml=toml)
    )
    assert "ran past the statement timeout of 3 s" in line, line
