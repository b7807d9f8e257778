"""`kpi check --data`: time values that are not times, which every metric leaves out, counted per column."""

from __future__ import annotations

import sqlite3
import uuid

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from kpicore.cli import cli
from kpicore.config import SourceConfig
from kpicore.connectors import open_source
from kpicore.data_check import check_times
from kpicore.errors import SourceError
from kpicore.plugins import new_plugin_manager
from kpicore.registry import build_registry
from kpicore.testing import POSTGRES_URL

ORDERS = [
    (1, 1, "2026-11-17 10:00:00", 10.0),
    (2, 1, "2026-11-17T10:00:00+01:00", 10.0),  # offset form: a time
    (3, 1, "soon", 20.0),
    (4, 2, "2026-13-45 10:00:00", 30.0),  # month 13: not a time
    (5, 2, "", 40.0),  # empty: no time (warned by the metrics), not unreadable
    (6, 3, None, 50.0),
    (7, 3, "17/11/2026", 60.0),
    (8, 3, "soon", 70.0),  # the same bad text twice: one example
]


@pytest.fixture
def registry():
    return build_registry(new_plugin_manager(load_entry_points=False))


def checks_by_column(source, entities):
    try:
        return {f"{c.entity}.{c.column}": c for c in check_times(source, entities)}
    finally:
        source.close()


@pytest.fixture
def shop_db(tmp_path):
    path = tmp_path / "shop.db"
    connection = sqlite3.connect(path)
    connection.execute(
        "CREATE TABLE orders (order_id INTEGER, customer_id INTEGER, ordered_at TEXT, amount REAL)"
    )
    connection.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", ORDERS)
    connection.execute(
        "CREATE TABLE leads (lead_id INTEGER, created_at TEXT, converted_at TEXT, channel TEXT)"
    )
    connection.execute("INSERT INTO leads VALUES (1, '2026-11-17', NULL, 'ads')")
    connection.commit()
    connection.close()
    return path


def test_sqlite_counts_and_examples(shop_db, registry):
    checks = checks_by_column(
        open_source(str(shop_db), SourceConfig(), registry), ["orders", "leads", "customer_orders", "tickets"]
    )
    assert set(checks) == {"orders.ordered_at", "leads.created_at", "leads.converted_at"}
    orders = checks["orders.ordered_at"]
    assert (orders.unreadable, orders.error) == (4, None)
    assert orders.examples == ["17/11/2026", "2026-13-45 10:00:00", "soon"]
    assert (checks["leads.created_at"].unreadable, checks["leads.converted_at"].unreadable) == (0, 0)


def test_csv_counts_without_examples(tmp_path, registry):
    folder = tmp_path / "files"
    folder.mkdir()
    lines = ["order_id,customer_id,ordered_at,amount"] + [
        f"{i},{c},{'' if at is None else at},{amount}" for i, c, at, amount in ORDERS
    ]
    (folder / "orders.csv").write_text("\n".join(lines) + "\n")
    orders = checks_by_column(open_source(str(folder), SourceConfig(), registry), ["orders"])[
        "orders.ordered_at"
    ]
    assert (orders.unreadable, orders.examples, orders.error) == (4, [], None)


def test_postgres_typed_and_text_columns(registry, tmp_path, monkeypatch):
    schema = f"kpi_data_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        connection.execute(
            sa.text(
                f'CREATE TABLE "{schema}".orders (order_id int, customer_id int, ordered_at text, amount numeric)'
            )
        )
        connection.execute(
            sa.text(
                f"INSERT INTO \"{schema}\".orders VALUES (1, 1, '2026-11-17 10:00', 10), "
                "(2, 1, '2026-11-18T10:00:00+01:00', 1), (3, 1, '2026-11-19 10:00:00.123456Z', 2), "
                "(4, 1, 'soon', 20), (5, 1, '2026-02-30 10:00', 40), (6, 1, '2026-13-01', 80), "
                "(7, 1, '17/11/2026', 160), (8, 1, NULL, 5), (9, 1, '', 5), (10, 1, '2026-11-17-05', 1), "
                "(11, 1, '2026-11-17 10:00+16', 1)"
            )
        )
        connection.execute(
            sa.text(
                f'CREATE TABLE "{schema}".leads (lead_id int, created_at timestamptz, converted_at timestamptz, '
                "channel text)"
            )
        )
        connection.execute(
            sa.text(f"INSERT INTO \"{schema}\".leads VALUES (1, '2026-11-17 10:00:00+00', NULL, 'ads')")
        )
    try:
        checks = checks_by_column(
            open_source(POSTGRES_URL, SourceConfig(schema=schema), registry), ["orders", "leads"]
        )
        assert checks["leads.created_at"].unreadable == 0 and checks["leads.created_at"].error is None
        # Text that is not a time is counted, where a cast would stop the query at the first one.
        orders = checks["orders.ordered_at"]
        assert (orders.unreadable, orders.examples, orders.error) == (
            6,
            ["17/11/2026", "2026-02-30 10:00", "2026-11-17 10:00+16"],
            None,
        )
        assert orders.stops_compute and not checks["leads.created_at"].stops_compute
        (tmp_path / "kpi.toml").write_text(f'[source]\nurl = "{POSTGRES_URL}"\nschema = "{schema}"\n')
        monkeypatch.chdir(tmp_path)
        result = CliRunner().invoke(cli, ["check", "--data"])
        assert result.exit_code == 1, result.output
        assert (
            "  orders.ordered_at: 6 value(s) are not times; this source cannot compute over them, so the "
            "metrics of orders are unavailable (e.g. "
        ) in result.output
        # The computation casts, which PostgreSQL refuses for such text: the metrics of orders (and of
        # customer_orders, derived from it) are unavailable, naming entity, column and `kpi check --data`;
        # the other metrics are computed.
        from kpicore.compute import compute, select_metrics
        from kpicore.periods import parse_period

        source = open_source(POSTGRES_URL, SourceConfig(schema=schema), registry)
        revenue, clv, conversion = compute(
            select_metrics(["revenue", "clv", "conversion_rate"], registry), parse_period("2026-W47"), source
        )
        source.close()
        assert (revenue.status, clv.status, conversion.status) == ("unavailable", "unavailable", "ok")
        assert revenue.reason.startswith(
            "entity orders: column ordered_at holds 6 value(s) that are not times"
        )
        assert "`kpi check --data`" in revenue.reason
        assert clv.reason.startswith(
            "entity customer_orders is derived from one that failed: entity orders: "
        )
        assert conversion.n == 1
        # When nothing else is asked for, the computation fails with that reason.
        source = open_source(POSTGRES_URL, SourceConfig(schema=schema), registry)
        with pytest.raises(
            SourceError, match=r"^entity orders: column ordered_at holds 6 value\(s\) that are not"
        ):
            compute(select_metrics(["revenue"], registry), parse_period("2026-W47"), source)
        source.close()
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def test_cli(shop_db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["check", "--source", str(shop_db), "--data"])
    assert result.exit_code == 1, result.output  # values that change results
    assert "DATA: 1 column(s) hold values that change results" in result.output
    # Each line under its heading: the unavailable metrics are not under "time values:".
    entities, rest = result.output.split("\nmetrics:\n")
    metrics, times = rest.split("\ntime values:\n")
    assert "  orders: ok (table 'orders')" in entities and "unavailable" not in entities
    assert "  nps: unavailable (needs survey_responses)" in metrics.splitlines()
    assert "unavailable" not in times
    assert (
        "  orders.ordered_at: 4 value(s) are not times; every metric leaves those records out "
        "(e.g. '17/11/2026', '2026-13-45 10:00:00', 'soon')"
    ) in result.output
    assert "  leads.created_at: all values are times or empty" in result.output
    assert "1 time column(s) hold values that are not times" in result.output
    plain = CliRunner().invoke(cli, ["check", "--source", str(shop_db)])
    assert "time values" not in plain.output and plain.exit_code == 0


def test_a_csv_it_cannot_read_is_a_failure(tmp_path, monkeypatch):
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "orders.csv").write_text(
        "order_id,customer_id,ordered_at,amount\n1,1,2026-11-17 10:00:00,5\n2,1,2026-11-18 10:00:00,5,extra,cells\n"
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["check", "--source", str(folder), "--data"])
    assert result.exit_code == 1, result.output
    # Files as exported are read once when the source opens: the row that does not fit says where it is.
    assert "orders.csv, line 3: Expected Number of Columns: 4 Found: 6" in result.output


def test_sqlite_dates_and_odd_time_text(tmp_path, registry):
    # A date column: '2026-13-45' (month 13), '2026-02-30' (which SQLite's date() moves to March 2nd),
    # '2026-12-3' (not zero-padded) and 'soon' are not dates; a date with a time of day is.
    # A time column: 'now' and a bare Julian day number parse in julianday(), but no period holds them.
    path = tmp_path / "shop.db"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE marketing_spend (spent_on TEXT, channel TEXT, amount REAL)")
    connection.executemany(
        "INSERT INTO marketing_spend VALUES (?, 'ads', ?)",
        [
            ("2026-12-05", 100),
            ("2026-12-06 00:00:00", 10),
            ("2026-12-07T00:00:00+01:00", 1),
            ("2026-12-08t10:00", 1),
            ("2026-13-45", 1000),
            ("2026-02-30", 1000),
            ("2026-12-3", 1000),
            ("soon", 1000),
            (None, 1),
        ],
    )
    connection.execute(
        "CREATE TABLE customers (customer_id INTEGER, signup_at TEXT, churned_at TEXT, channel TEXT)"
    )
    connection.executemany(
        "INSERT INTO customers VALUES (?, ?, NULL, 'ads')",
        [(1, "2026-12-10 09:00:00"), (2, "now"), (3, "2461362.5")],
    )
    connection.commit()
    connection.close()
    checks = checks_by_column(
        open_source(str(path), SourceConfig(), registry), ["marketing_spend", "customers"]
    )
    spend = checks["marketing_spend.spent_on"]
    assert (spend.unreadable, spend.examples) == (4, ["2026-02-30", "2026-12-3", "2026-13-45"])
    signup = checks["customers.signup_at"]
    assert (signup.unreadable, signup.examples) == (2, ["2461362.5", "now"])
    # The metrics agree: December's spend is 112 (the four valid December days), over 1 new customer.
    from kpicore.compute import compute, select_metrics
    from kpicore.periods import parse_period

    source = open_source(str(path), SourceConfig(), registry)
    (cac,) = compute(select_metrics(["cac"], registry), parse_period("2026-12"), source)
    source.close()
    assert (cac.value, cac.n) == (112.0, 1)


def test_a_mapping_error_does_not_stop_the_data_check(shop_db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "kpi.toml").write_text(
        f'[source]\nurl = "{shop_db}"\n[entities.orders]\ncolumns = {{ amount = "total" }}\n'
    )
    result = CliRunner().invoke(cli, ["check", "--data"])
    assert result.exit_code == 2
    assert "  leads.created_at: all values are times or empty" in result.output
    assert "orders.ordered_at" not in result.output.split("time values:")[1]
    assert "PROBLEM: " in result.output and "(mapped to 'total') not found" in result.output
