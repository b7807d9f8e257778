"""revenue, aov, clv, clv_predictive, repeat_purchase_rate: hand-computed cases (see data.py)."""

from __future__ import annotations

import pytest

from kpicore.config import Config
from kpicore.metric import Values
from kpicore.metrics.orders import CustomerLifetimeValue

from .data import CUSTOMERS, ORDERS, customer

WEEK = "2026-W47"


def counts(result):
    return sorted(w.count for w in result.warnings)


def segments(result):
    return [(s.segment, s.value, s.n) for s in result.segments]


def test_revenue(kpi):
    result = kpi.compute("revenue", WEEK, orders=ORDERS)
    # Orders 1 (at start) 100, 3 40, 4 refund -40, 5 guest 30, 9 (+01:00, 23:30 UTC) 25; 2 at end is out.
    assert (result.value, result.n, result.previous) == (155.0, 5, 60.0)
    assert counts(result) == [1, 1]  # order 6 has no amount, order 7 no time
    assert {w.message for w in result.warnings} == {
        "orders with no amount or an amount that is not a number (kpi check --data shows examples)",
        "orders with no ordered_at",
    }


def test_revenue_in_tokyo(kpi):
    # Tokyo W47 ends 2026-11-22 15:00 UTC: order 9 (23:30 UTC) moves out.
    assert kpi.compute("revenue", WEEK, tz="Asia/Tokyo", orders=ORDERS).value == 130.0


def test_aov_leaves_refunds_out(kpi):
    result = kpi.compute("aov", WEEK, orders=ORDERS)
    assert (result.value, result.n, result.previous) == (48.75, 4, 60.0)  # (100 + 40 + 30 + 25) / 4
    assert counts(result) == [1, 1]


def test_aov_with_only_refunds_is_none(kpi):
    orders = [{"order_id": 1, "customer_id": 1, "ordered_at": "2026-11-17 00:00:00", "amount": -10.0}]
    result = kpi.compute("aov", WEEK, orders=orders)
    assert (result.value, result.n) == (None, 0)


def test_clv_historical(kpi):
    result = kpi.compute("clv", WEEK, orders=ORDERS, config=Config(gross_margin=0.5))
    # Before end, by customer: 1 -> 100 + 60, 2 -> 40 - 40, 4 -> 25 (order 2 at end is out).
    assert result.value == pytest.approx(185 / 3 * 0.5)
    assert result.n == 3
    assert result.previous == 30.0  # W46: only order 8 (order 1 is exactly at W46's end)
    assert counts(result) == [1, 1, 1]  # guest order 5, order 6 (no amount), order 7 (no time)
    assert "orders with no customer (not attributable to a customer)" in {w.message for w in result.warnings}


def test_clv_gross_margin_defaults_to_one_without_config():
    metric = CustomerLifetimeValue()
    assert metric.value(Values({"lifetime_revenue": 300.0, "customers": 4}, None)) == 75.0
    assert metric.value(Values({"lifetime_revenue": 300.0, "customers": 0}, None)) is None


def test_clv_in_tokyo(kpi):
    # Tokyo end 2026-11-22 15:00 UTC: order 9 (customer 4) is after it, so 4 has no order yet.
    result = kpi.compute("clv", WEEK, tz="Asia/Tokyo", orders=ORDERS)
    assert (result.value, result.n) == (80.0, 2)  # (160 + 0) / 2


def test_repeat_purchase_rate(kpi):
    result = kpi.compute("repeat_purchase_rate", WEEK, orders=ORDERS)
    # Purchases before end: 1 -> two (orders 8, 1), 2 -> one (the refund is not a purchase), 4 -> one.
    assert result.value == pytest.approx(100 / 3)
    assert result.n == 3
    assert result.previous == 0.0  # W46: customer 1 has bought once
    assert counts(result) == [1, 1, 1]


def test_repeat_purchase_second_order_exactly_at_end_is_out(kpi):
    orders = [
        {"order_id": 1, "customer_id": 1, "ordered_at": "2026-11-17T08:00:00Z", "amount": 10.0},
        {"order_id": 2, "customer_id": 1, "ordered_at": "2026-11-23 00:00:00", "amount": 10.0},
        {"order_id": 3, "customer_id": 2, "ordered_at": "2026-11-18 08:00:00.250", "amount": 10.0},
        {"order_id": 4, "customer_id": 2, "ordered_at": "2026-11-18 08:00:00+01:00", "amount": 5.0},
    ]
    result = kpi.compute("repeat_purchase_rate", WEEK, orders=orders, trend=2)
    assert (result.value, result.n) == (50.0, 2)  # customer 2 bought twice (07:00 UTC and 08:00:00.250)
    assert [p.value for p in result.trend] == [None, 50.0]  # W46: no purchases yet -> None, not 0


def test_clv_predictive(kpi):
    result = kpi.compute("clv_predictive", WEEK, customers=CUSTOMERS, orders=ORDERS)
    # revenue 155, S = 4, churn 1/4: (155 / 4) / 0.25 = 155.
    assert (result.value, result.n) == (155.0, 4)
    assert result.previous == 60.0  # W46: revenue 60, S = 4, churn 1/4
    assert counts(result) == [1, 1, 2]  # orders 6 and 7; customers 6 and 7


def test_clv_predictive_with_no_churn_is_none(kpi):
    customers = [customer(1, "2026-01-01 00:00:00", region="North")]
    result = kpi.compute(
        "clv_predictive", WEEK, customers=customers, orders=ORDERS, config=Config(gross_margin=0.4)
    )
    assert (result.value, result.n) == (None, 1)


def test_lifetime_metrics_with_no_orders_are_none(kpi):
    results = kpi.compute(["clv", "repeat_purchase_rate", "revenue", "aov"], WEEK, orders=[])
    assert [results[m].value for m in ("clv", "repeat_purchase_rate", "revenue", "aov")] == [
        None,
        None,
        0,
        None,
    ]


def test_order_segments_by_region(kpi):
    names = ["revenue", "aov", "clv", "repeat_purchase_rate", "clv_predictive"]
    results = kpi.compute(names, WEEK, by="region", customers=CUSTOMERS, orders=ORDERS)
    # Customers 1 and 4 are North, 2 South, 3 has no region; order 5 has no customer.
    assert segments(results["revenue"]) == [("North", 125.0, 2), ("South", 0.0, 2), ("(none)", 30.0, 1)]
    assert segments(results["aov"]) == [("North", 62.5, 2), ("South", 40.0, 1), ("(none)", 30.0, 1)]
    # Customer 3 (no region) has only invalid orders and the guest order reaches no customer: no one
    # in (none) has a valid order, so the per-customer metrics give None there.
    assert segments(results["clv"]) == [("North", 92.5, 2), ("South", 0.0, 1), ("(none)", None, 0)]
    assert segments(results["repeat_purchase_rate"]) == [
        ("North", 50.0, 2),
        ("South", 0.0, 1),
        ("(none)", None, 0),
    ]
    # clv_predictive: only South (customer 2) churns; revenue 40 - 40 = 0 there. Elsewhere no churn: None.
    assert segments(results["clv_predictive"]) == [
        ("North", None, 1),
        ("South", 0.0, 1),
        ("West", None, 1),
        ("(none)", None, 1),
    ]
