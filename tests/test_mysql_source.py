"""A MySQL/MariaDB source as a new user meets it: `kpi check`, `kpi compute`, and every way it goes wrong.

`kpi` runs as a real process against the MariaDB on 127.0.0.1:3306, each test in a database of its own.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from kpicore.testing import KpiHarness, create_mysql_database, drop_mysql_database, mysql_url, mysql_writer

from .metrics.data import ALL

KPI = str(Path(sys.executable).with_name("kpi"))


def kpi(*args, cwd, env=None):
    environment = {**os.environ, "KPI_LOAD_PLUGINS": "", **(env or {})}
    environment.pop("KPI_DEBUG", None)
    done = subprocess.run(
        [KPI, *args], check=False, cwd=cwd, env=environment, capture_output=True, text=True, timeout=120
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def shop(tmp_path):
    """A MariaDB database holding the shared test dataset (TIMESTAMP columns), and its URL."""
    harness = KpiHarness(tmp_path, "mysql")
    source = harness.source(ALL)
    url = source.engine.url.render_as_string(hide_password=False)
    yield url
    harness.close()


def test_kpi_check_on_mariadb(shop, tmp_path):
    code, out, err = kpi("check", "--source", shop, cwd=tmp_path)
    assert code == 0, out + err
    assert "(dialect mysql)" in out
    for entity in ("customers", "orders", "survey_responses", "tickets", "leads", "marketing_spend"):
        assert f"  {entity}: ok" in out, out
    assert out.rstrip().endswith("OK")


def test_kpi_check_data_counts_zero_dates_on_mariadb(tmp_path):
    database = create_mysql_database()
    try:
        engine = mysql_writer(mysql_url(database))
        with engine.begin() as connection:
            connection.execute(sa.text("SET SESSION sql_mode = ''"))
            connection.execute(
                sa.text(
                    "CREATE TABLE orders (order_id INT, customer_id INT, ordered_at DATETIME NOT NULL, amount DOUBLE)"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO orders VALUES (1, 1, '2026-11-17 10:00:00', 5), (2, 1, '0000-00-00 00:00:00', 9)"
                )
            )
        engine.dispose()
        code, out, err = kpi("check", "--data", "--source", mysql_url(database), cwd=tmp_path)
        assert code in (0, 1), err  # (whether values that are not times fail the check is another issue's)
        assert "orders.ordered_at: 1 value(s) are not times" in out, out + err
    finally:
        drop_mysql_database(database)


def test_compute_on_mariadb_equals_sqlite(shop, tmp_path):
    sqlite = KpiHarness(tmp_path / "sqlite")
    (tmp_path / "sqlite").mkdir()
    path = sqlite.source(ALL).engine.url.database.removeprefix("file:").split("?")[0]
    try:
        outputs = []
        for url in (shop, path):
            code, out, err = kpi(
                "compute",
                "all",
                "--period",
                "2026-W47",
                "--trend",
                "4",
                "--format",
                "json",
                "--source",
                url,
                cwd=tmp_path,
            )
            assert code == 0, err
            outputs.append(json.loads(out))
        assert outputs[0] == outputs[1]  # numbers compare equal whether the driver gave 4 or 4.0
    finally:
        sqlite.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("case", ["server down", "refused user", "missing database"])
def test_mariadb_connection_failures_are_one_line_with_the_password_masked(case, tmp_path):
    url = {
        "server down": f"mysql+pymysql://root:s3cret@127.0.0.1:{_free_port()}/test",
        "refused user": "mysql+pymysql://no_such_user_kpi:s3cret@127.0.0.1:3306/test",
        "missing database": "mysql+pymysql://root@127.0.0.1:3306/kpi_no_such_database_x",
    }[case]
    code, out, err = kpi("compute", "revenue", "--source", url, cwd=tmp_path)
    assert code == 1, out + err
    assert "Traceback" not in err and "s3cret" not in err
    line = err.strip()
    assert "\n" not in line, err
    expected = {
        "server down": "Can't connect",
        "refused user": "Access denied",
        "missing database": "Unknown database 'kpi_no_such_database_x'",
    }[case]
    assert expected in line and "source mysql+pymysql://" in line, line
    if case != "missing database":
        assert ":***@127.0.0.1" in line


def test_mariadb_table_without_the_mapped_column(tmp_path):
    database = create_mysql_database()
    try:
        engine = mysql_writer(mysql_url(database))
        with engine.begin() as connection:
            connection.execute(
                sa.text("CREATE TABLE orders (order_id INT, customer_id INT, placed DATETIME, amount DOUBLE)")
            )
        engine.dispose()
        code, out, err = kpi("compute", "revenue", "--source", mysql_url(database), cwd=tmp_path)
        assert code == 2, out + err
        # The metric is unavailable with one line naming the column; none computed: exit 2, one line.
        assert "\n" not in err.strip() and "none of the metrics" in err, err
        reason = " ".join(out.split())
        assert "orders.ordered_at not found" in reason and "placed" in reason, out
    finally:
        drop_mysql_database(database)


def test_unknown_named_timezone_names_the_key(shop, tmp_path):
    (tmp_path / "kpi.toml").write_text(f'[source]\nurl = "{shop}"\ntimezone = "Mars/Olympus_Mons"\n')
    code, out, err = kpi("compute", "revenue", cwd=tmp_path)
    assert code == 2, out + err
    assert "Mars/Olympus_Mons" in err and "Traceback" not in err


def test_a_failing_query_stops_the_others_on_mariadb(shop, tmp_path):
    """PyMySQL cannot cancel a query: the dialect stops it with KILL QUERY from another connection, so a
    failure does not wait for a 30-second query running beside it."""
    import time

    from kpicore.config import SourceConfig
    from kpicore.connectors import open_source
    from kpicore.errors import SourceError

    registry = KpiHarness(tmp_path).registry()
    source = open_source(shop, SourceConfig(base_dir=tmp_path), registry)
    try:
        assert source.concurrency >= 2
        began = time.monotonic()
        with pytest.raises(SourceError, match="no_such_table"):
            source.execute_all([sa.text("SELECT SLEEP(30)"), sa.text("SELECT 1 FROM no_such_table")])
        assert time.monotonic() - began < 10
        assert source.execute_all([sa.text("SELECT 1"), sa.text("SELECT 2")]) == [[(1,)], [(2,)]]
    finally:
        source.close()
