"""The engine's shortcuts give exactly what one CASE per measure and window gives.

Bucketed measures (one GROUP BY per time column), counting measures evaluated in bucket space
(``kpicore.buckets``) and SQLite text times parsed once per row (a MATERIALIZED CTE) are checked
against the plain conditional aggregation, on demo data plus rows on
and around the window boundaries in every text form SQLite sources hold.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from kpicore import Measure, Metric, hookimpl
from kpicore.compute import compute, plain_queries, select_metrics
from kpicore.config import SourceConfig
from kpicore.connectors import open_source
from kpicore.demo_data import generate_demo_database
from kpicore.periods import parse_period
from kpicore.plugins import new_plugin_manager
from kpicore.registry import build_registry

#: Rows on and around window boundaries, in the text forms SQLite sources hold, plus unusable ones.
EDGE_ORDERS = [
    ("2026-11-16 00:00:00", 1.0),
    ("2026-11-15 23:59:59", 2.0),
    ("2026-11-16T00:00:00Z", 4.0),
    ("2026-11-16 00:30:00+01:00", 8.0),
    ("2026-11-15 23:30:00-01:00", 16.0),
    ("2026-11-09 00:00:00.500", 32.0),
    ("2026-11-22 23:59:59.999", 64.0),
    ("2026-11-23 00:00:00", 128.0),
    ("not a time", 256.0),
    (None, 512.0),
    ("2026-08-31 00:00:00", 1024.0),
    ("2026-08-30 23:59:59", 2048.0),
    # Around the first boundary of a 6-week trend of 2026-W47 (2026-10-12): history on SQLite is
    # aggregated apart from the buckets, and its text range is a day wider than exact.
    ("2026-10-12 00:30:00+01:00", 4096.0),
    ("2026-10-11 23:59:59", 8192.0),
    ("2026-10-12 00:00:00", 16384.0),
]

#: (signup_at, churned_at): churn on boundaries, before signup, equal to it, unparseable or missing.
EDGE_CUSTOMERS = [
    ("2026-10-01 00:00:00", "2026-11-16 00:00:00"),
    ("2026-10-01 00:00:00", "2026-11-15T23:59:59Z"),
    ("2026-10-01 00:00:00", "2026-11-16 00:30:00+01:00"),
    ("2026-11-16 00:00:00", "2026-11-16 00:00:00"),
    ("2026-11-10 00:00:00", "2026-11-09 00:00:00"),
    ("2026-11-16T00:00:00Z", None),
    ("garbage", None),
    (None, None),
    (None, "2026-11-17 00:00:00"),
    ("2026-10-01 00:00:00", "garbage"),
    ("2026-11-22 23:59:59.999", "2026-11-23 00:00:00"),
    ("2026-11-09 00:00:00.000", "2026-11-20 12:00:00-05:00"),
]


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("bucketed") / "demo.db"
    generate_demo_database(path, today=date(2026, 11, 25), customers=300)
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE orders_copy AS SELECT * FROM orders")  # keep NOT NULL off for the edges
    connection.execute("DROP TABLE orders")
    connection.execute(
        "CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INTEGER, ordered_at TEXT, "
        "amount REAL)"
    )
    connection.execute("INSERT INTO orders SELECT * FROM orders_copy")
    connection.execute("DROP TABLE orders_copy")
    connection.executemany(
        "INSERT INTO orders (customer_id, ordered_at, amount) VALUES (1, ?, ?)", EDGE_ORDERS
    )
    connection.execute("ALTER TABLE customers RENAME TO customers_copy")
    connection.execute(
        "CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, signup_at TEXT, churned_at TEXT, "
        "channel TEXT, region TEXT, plan TEXT)"
    )
    connection.execute("INSERT INTO customers SELECT * FROM customers_copy")
    connection.execute("DROP TABLE customers_copy")
    connection.executemany(
        "INSERT INTO customers (signup_at, churned_at, channel) VALUES (?, ?, 'organic')", EDGE_CUSTOMERS
    )
    connection.commit()
    connection.close()
    return path


def results_as_numbers(results):
    """{(metric, what): number} for value, previous, n, each trend point and each warning count."""
    numbers = {}
    for r in results:
        numbers.update(
            {(r.metric, "value"): r.value, (r.metric, "previous"): r.previous, (r.metric, "n"): r.n}
        )
        numbers.update({(r.metric, f"trend {p.period}"): p.value for p in r.trend or []})
        numbers.update({(r.metric, w.message): w.count for w in r.warnings})
    return numbers


def computed(database, registry, metrics, period, tz="UTC", trend=6):
    """The results of ``metrics`` over ``period`` as numbers, and the SQL the engine ran for them."""
    source = open_source(str(database), SourceConfig(timezone=tz), registry)
    executed = []
    sa.event.listen(source.engine, "before_cursor_execute", lambda *args: executed.append(args[2]))
    try:
        return results_as_numbers(compute(metrics, period, source, trend=trend)), executed
    finally:
        source.close()


@pytest.mark.parametrize(
    "period, now",
    [
        ("2026-W47", None),
        ("this-week", datetime(2026, 11, 25, 13, 30, tzinfo=UTC)),  # to-date: windows with gaps between them
        ("2026-11", None),
    ],
)
@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin"])
def test_bucketed_equals_per_window(demo_db, period, now, tz):
    registry = build_registry(new_plugin_manager(load_entry_points=False))
    metrics = select_metrics(["all"], registry)
    the_period = parse_period(period, tz, now=now)

    def run():
        return computed(demo_db, registry, metrics, the_period, tz)

    bucketed, shortcut_sql = run()
    assert any("bucket_rows" in sql for sql in shortcut_sql), "no measure was bucketed"
    assert any("_buckets" in sql for sql in shortcut_sql), "no measure was evaluated in bucket space"
    assert any("history_rows" in sql for sql in shortcut_sql), "no lifetime history was aggregated apart"
    with plain_queries(parse_once=True):
        per_window_parsed_once, parsed_sql = run()
    assert any("__parsed" in sql for sql in parsed_sql), "no text time was parsed once"
    with plain_queries():
        per_window, plain_sql = run()  # the engine without its shortcuts
    assert not any("bucket_rows" in sql or "__parsed" in sql or "_buckets" in sql for sql in plain_sql)
    for faster in (bucketed, per_window_parsed_once):
        assert faster.keys() == per_window.keys()
        for key, value in per_window.items():
            assert faster[key] == (None if value is None else pytest.approx(value, rel=1e-9)), key
    assert sum(value is not None for value in bucketed.values()) > 20


def test_lifetime_buckets_past_an_integers_bits(demo_db):
    """A trend longer than the per-customer pass records as bits (kpicore.metrics.orders) takes the
    running count instead, with the same numbers."""
    registry = build_registry(new_plugin_manager(load_entry_points=False))
    metrics = select_metrics(["clv", "repeat_purchase_rate"], registry)
    the_period = parse_period("2026-W47", "UTC")

    def run():
        source = open_source(str(demo_db), SourceConfig(), registry)
        executed = []
        sa.event.listen(source.engine, "before_cursor_execute", lambda *args: executed.append(args[2]))
        try:
            return results_as_numbers(compute(metrics, the_period, source, trend=70)), executed
        finally:
            source.close()

    bucketed, sql = run()
    assert any("customer_order_running" in statement for statement in sql)
    assert not any("customer_order_masks" in statement for statement in sql)
    with plain_queries():
        per_window, _ = run()
    assert bucketed.keys() == per_window.keys()
    for key, value in per_window.items():
        assert bucketed[key] == (None if value is None else pytest.approx(value, rel=1e-9)), key
    assert sum(value is not None for value in bucketed.values()) > 100


class Buyers(Metric):
    """Distinct customers with a purchase in the period; those with an undated order warned."""

    name = "buyers"
    title = "Buyers"
    description = "Distinct customers with an order of a positive amount in the period."
    unit = "count"
    better = "higher"
    entity = "orders"
    time = "ordered_at"
    measures = {
        "buyers": Measure.count_distinct("customer_id", where=lambda t: t.amount > 0),
        "undated": Measure.count_distinct(
            "customer_id", window="missing", warn="customers with undated orders"
        ),
    }

    def value(self, m):
        return m.buyers


class BuyersPlugin:
    @hookimpl
    def register_metrics(self, register):
        register(Buyers())


@pytest.mark.parametrize(
    "period, now",
    [("2026-W47", None), ("2026-11", None), ("this-week", datetime(2026, 11, 25, 13, 30, tzinfo=UTC))],
)
def test_a_distinct_count_is_bucketed_where_each_window_is_one_bucket(demo_db, period, now):
    """A distinct count does not add up over buckets: per bucket of a trend whose windows are each one
    bucket (weeks, months, to-date weeks), it is each window's own, and equals one CASE per window."""
    plugins = new_plugin_manager(load_entry_points=False)
    plugins.manager.register(BuyersPlugin())
    registry = build_registry(plugins)
    metrics = select_metrics(["buyers", "aov"], registry)  # a distinct count beside a plain sum
    the_period = parse_period(period, "Europe/Berlin", now=now)

    def run():
        return computed(demo_db, registry, metrics, the_period, "Europe/Berlin")

    bucketed, sql = run()
    assert any("count(DISTINCT" in q and "bucket_rows" in q and "GROUP BY" in q for q in sql), sql
    with plain_queries():
        per_window, _ = run()
    assert bucketed.keys() == per_window.keys()
    for key, value in per_window.items():
        assert bucketed[key] == (None if value is None else pytest.approx(value, rel=1e-9)), key
    trend = [
        value for (metric, what), value in bucketed.items() if metric == "buyers" and what.startswith("trend")
    ]
    assert len(trend) == 6 and len(set(trend)) > 1, trend  # real counts that differ, not one repeated
    assert bucketed[("buyers", "customers with undated orders")] == 1  # the edge rows' undated order
