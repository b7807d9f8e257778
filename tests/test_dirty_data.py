"""Untidy sources: text in number columns, empty cells, unparseable times. Left out and warned, never
summed as 0, never counted as valid (DESIGN 4 and 6)."""

from __future__ import annotations

import pytest

ORDERS = [
    {"order_id": 1, "customer_id": 1, "ordered_at": "2026-11-16 10:00:00", "amount": 10.0},
    {"order_id": 2, "customer_id": 1, "ordered_at": "2026-11-16 11:00:00", "amount": "abc"},
    {"order_id": 3, "customer_id": 1, "ordered_at": "2026-11-16 12:00:00", "amount": None},
    {"order_id": 4, "customer_id": 1, "ordered_at": "2026-11-16 13:00:00", "amount": "12,50"},
    {"order_id": 5, "customer_id": 1, "ordered_at": "2026-11-16 14:00:00", "amount": " 7.5 "},
]


@pytest.mark.parametrize("backend", ["sqlite", "csv"])
def test_text_amounts_are_left_out_and_warned(kpi, backend):
    kpi.backend = backend
    results = kpi.compute(["revenue", "aov"], "2026-W47", orders=ORDERS)
    revenue, aov = results["revenue"], results["aov"]
    assert (revenue.value, revenue.n) == (17.5, 2)
    assert [(w.message, w.count) for w in revenue.warnings] == [
        ("orders with no amount or an amount that is not a number (kpi check --data shows examples)", 3)
    ]
    assert (aov.value, aov.n) == (8.75, 2)


CUSTOMERS = [
    {"customer_id": 1, "signup_at": "2026-01-01 00:00:00", "churned_at": "", "region": "North"},
    {"customer_id": 2, "signup_at": "2026-01-01 00:00:00", "churned_at": "garbage", "region": ""},
    {"customer_id": 3, "signup_at": "2026-01-01 00:00:00", "churned_at": None, "region": None},
    {
        "customer_id": 4,
        "signup_at": "2026-01-01 00:00:00",
        "churned_at": "2026-11-17 09:00:00",
        "region": "North",
    },
]


@pytest.mark.parametrize("backend", ["sqlite", "csv"])
def test_empty_and_unparseable_times(kpi, backend):
    kpi.backend = backend
    results = kpi.compute(["churn_rate", "active_customers"], "2026-W47", by="region", customers=CUSTOMERS)
    churn = results["churn_rate"]
    # '' is an empty cell (NULL: active); 'garbage' is invalid, left out and warned.
    assert (churn.value, churn.n) == (pytest.approx(100 / 3), 3)
    assert sum(w.count for w in churn.warnings) == 1
    assert {s.segment: s.n for s in churn.segments} == {"North": 2, "(none)": 1}
    assert results["active_customers"].value == 2


def test_empty_time_cells_are_missing_times_in_a_trend(kpi):
    rows = [
        {
            "response_id": 1,
            "customer_id": 1,
            "survey": "nps",
            "score": 10,
            "responded_at": "2026-11-16 10:00:00",
        },
        {"response_id": 2, "customer_id": 1, "survey": "nps", "score": 0, "responded_at": ""},
        {"response_id": 3, "customer_id": 1, "survey": "nps", "score": 0, "responded_at": None},
    ]
    result = kpi.compute("nps", "2026-W47", trend=4, survey_responses=rows)
    assert (result.value, result.n) == (100.0, 1)
    assert [p.value for p in result.trend] == [None, None, None, 100.0]
    assert sum(w.count for w in result.warnings) == 2


@pytest.mark.parametrize("declared", ["TEXT", "", "REAL"])
def test_sqlite_amounts_in_a_column_of_any_type(tmp_path, declared):
    """A TEXT or untyped SQLite column keeps ' 7.5 ' as text, a REAL one stores it as a number: either way
    the amount is read by the same rules (' 7.5 ', 3 and '-2e0' count; 'abc', '12,50', '', NULL and a
    blob are left out and warned), in the period's orders and in the lifetime metrics."""
    import sqlite3

    from kpicore.compute import compute, select_metrics
    from kpicore.config import SourceConfig
    from kpicore.connectors import open_source
    from kpicore.periods import parse_period
    from kpicore.plugins import new_plugin_manager
    from kpicore.registry import build_registry

    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as connection:
        connection.execute(
            f"CREATE TABLE orders (order_id INTEGER, customer_id INTEGER, ordered_at TEXT, amount {declared})"
        )
        amounts = [10.0, "abc", None, "12,50", " 7.5 ", 3, "", b"\x01", "-2e0"]
        connection.executemany(
            "INSERT INTO orders VALUES (?, 1, '2026-11-16 10:00:00', ?)", list(enumerate(amounts, 1))
        )
    connection.close()
    registry = build_registry(new_plugin_manager(load_entry_points=False))
    source = open_source(str(path), SourceConfig(), registry)
    try:
        metrics = select_metrics(["revenue", "clv", "repeat_purchase_rate"], registry)
        results = {r.metric: r for r in compute(metrics, parse_period("2026-W47", "UTC"), source)}
    finally:
        source.close()
    revenue, clv, repeat = results["revenue"], results["clv"], results["repeat_purchase_rate"]
    assert (revenue.value, revenue.n) == (18.5, 4)
    assert [w.count for w in revenue.warnings] == [5]
    assert (clv.value, clv.n, clv.previous) == (18.5, 1, None)
    assert (repeat.value, repeat.n) == (100.0, 1)
