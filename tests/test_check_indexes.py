"""`kpi check --indexes`: an index on every mapped time column, or the CREATE INDEX to add it."""

from __future__ import annotations

import sqlite3
import uuid

import pytest
from click.testing import CliRunner

from kpicore.cli import cli
from kpicore.config import EntityMapping, SourceConfig
from kpicore.connectors import open_source
from kpicore.indexes import index_advice
from kpicore.plugins import new_plugin_manager
from kpicore.registry import build_registry
from kpicore.testing import POSTGRES_URL


@pytest.fixture
def registry():
    return build_registry(new_plugin_manager(load_entry_points=False))


def by_column(advice):
    return {f"{item.entity}.{item.column}": item for item in advice}


@pytest.fixture
def shop_db(tmp_path):
    """orders.ordered_at indexed; customers' signup_at leads a composite index; churned_at has none."""
    path = tmp_path / "shop.db"
    connection = sqlite3.connect(path)
    connection.executescript("""
        CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INTEGER, ordered_at TEXT, amount REAL);
        CREATE INDEX ix_orders_ordered_at ON orders (ordered_at);
        CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, signup_at TEXT, churned_at TEXT, plan TEXT);
        CREATE INDEX ix_signup_then_plan ON customers (signup_at, plan);
        CREATE INDEX ix_plan_then_churn ON customers (plan, churned_at);
    """)
    connection.close()
    return path


def test_sqlite_advice(shop_db, registry):
    source = open_source(str(shop_db), SourceConfig(), registry)
    try:
        advice = by_column(index_advice(source, ["customers", "orders", "tickets"]))
    finally:
        source.close()
    assert set(advice) == {"customers.signup_at", "customers.churned_at", "orders.ordered_at"}
    assert advice["orders.ordered_at"].index == "ix_orders_ordered_at"
    assert advice["customers.signup_at"].index == "ix_signup_then_plan"
    churn = advice["customers.churned_at"]
    assert churn.missing  # only as the second column of an index, which a range on it cannot use
    assert churn.create == "CREATE INDEX ix_customers_churned_at ON customers (churned_at);"
    statement = churn.create
    connection = sqlite3.connect(shop_db)
    connection.execute(statement)
    connection.close()
    source = open_source(str(shop_db), SourceConfig(), registry)
    try:
        assert not any(item.missing for item in index_advice(source, ["customers", "orders"]))
    finally:
        source.close()


def test_cli_prints_create_index(shop_db, monkeypatch, tmp_path):
    monkeypatch.setenv("KPI_LOAD_PLUGINS", "")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["check", "--indexes", "--source", str(shop_db)])
    assert result.exit_code == 0, result.output
    assert "orders.ordered_at: indexed (ix_orders_ordered_at" in result.output
    assert "customers.churned_at: NO INDEX" in result.output
    assert "CREATE INDEX ix_customers_churned_at ON customers (churned_at);" in result.output


@pytest.fixture
def pg_schema():
    import psycopg

    url = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    schema = f"kpi_idx_{uuid.uuid4().hex[:8]}"
    connection = psycopg.connect(url, autocommit=True)
    connection.execute(f"CREATE SCHEMA {schema}")
    connection.execute(f"""
        CREATE TABLE {schema}.shop_orders (id bigint PRIMARY KEY, customer_id bigint, paid_at timestamptz,
                                           amount double precision);
        CREATE TABLE {schema}.tickets (ticket_id bigint PRIMARY KEY, customer_id bigint, opened_at timestamptz,
                                       resolved_at timestamptz, contacts integer, escalated boolean);
        CREATE INDEX tickets_opened ON {schema}.tickets (opened_at);
    """)
    yield schema
    connection.execute(f"DROP SCHEMA {schema} CASCADE")
    connection.close()


def test_postgresql_advice_uses_the_mapped_column(pg_schema, registry):
    config = SourceConfig(
        schema=pg_schema,
        entities={
            "orders": EntityMapping(table="shop_orders", columns={"order_id": "id", "ordered_at": "paid_at"}),
        },
    )
    source = open_source(POSTGRES_URL, config, registry)
    try:
        advice = by_column(index_advice(source, ["orders", "tickets"]))
    finally:
        source.close()
    assert advice["tickets.opened_at"].index == "tickets_opened"
    assert advice["tickets.resolved_at"].create == (
        f"CREATE INDEX ix_tickets_resolved_at ON {pg_schema}.tickets (resolved_at);"
    )
    orders = advice["orders.ordered_at"]
    assert (orders.table, orders.source_column) == ("shop_orders", "paid_at")
    assert orders.create == f"CREATE INDEX ix_shop_orders_paid_at ON {pg_schema}.shop_orders (paid_at);"


def test_query_mapping_gets_a_note(shop_db, registry):
    config = SourceConfig(entities={"orders": EntityMapping(query="SELECT * FROM orders")})
    source = open_source(str(shop_db), config, registry)
    try:
        [item] = index_advice(source, ["orders"])
    finally:
        source.close()
    assert not item.missing and item.index is None
    assert "query" in item.note
