"""new_customers, churn_rate, retention_rate, active_customers: hand-computed cases (see data.py)."""

from __future__ import annotations

import pytest

from kpicore.errors import MappingError

from .data import CUSTOMERS, customer

WEEK = "2026-W47"


def counts(result):
    return sorted(w.count for w in result.warnings)


def segments(result):
    return [(s.segment, s.value, s.n) for s in result.segments]


def test_new_customers(kpi):
    result = kpi.compute("new_customers", WEEK, customers=CUSTOMERS)
    # 4 signs up exactly at start (in), 5 in the week; 8 exactly at end is out; 6 counts nowhere (Nov 1).
    assert (result.value, result.n, result.previous) == (2, 2, 1)
    assert counts(result) == [1]  # customer 7 has no signup time
    assert [w.message for w in result.warnings] == ["customers with no signup time"]


def test_new_customers_in_tokyo_include_a_late_sunday_utc_signup(kpi):
    result = kpi.compute("new_customers", WEEK, tz="Asia/Tokyo", customers=CUSTOMERS)
    assert result.value == 3  # customer 10 (Sunday 23:59:59 UTC) is Monday morning in Tokyo


def test_churn_rate(kpi):
    result = kpi.compute("churn_rate", WEEK, customers=CUSTOMERS)
    # S = 1, 2, 3, 10; only 2 churns in the week (exactly at start). 3 churns exactly at end: not in P.
    # 4 joins and leaves in the week: in neither part. 6 and 7 are invalid.
    assert result.value == 25.0
    assert result.n == 4
    assert result.previous == 25.0  # W46: S = 1, 2, 3, 9; 9 churns
    assert counts(result) == [2]
    assert result.warnings[0].message == "customers with no signup time or churned before signing up"


def test_retention_rate(kpi):
    result = kpi.compute("retention_rate", WEEK, customers=CUSTOMERS)
    # S = 1, 2, 3, 10; still active at end: 1, 3 (churned_at == end counts as active), 10.
    assert (result.value, result.n, result.previous) == (75.0, 4, 75.0)
    assert counts(result) == [2]


def test_active_customers(kpi):
    result = kpi.compute("active_customers", WEEK, customers=CUSTOMERS)
    # 1, 3 (churns exactly at end), 5, 10; 4 joined and left; 8 signs up at end; 2 and 9 churned.
    assert (result.value, result.n) == (4, 4)
    assert result.previous == 4  # 1, 2 (churns exactly at W46's end), 3, 10
    assert counts(result) == [2]


def test_churn_and_retention_in_tokyo(kpi):
    results = kpi.compute(["churn_rate", "retention_rate"], WEEK, tz="Asia/Tokyo", customers=CUSTOMERS)
    # Tokyo W47 starts 2026-11-15 15:00 UTC: S = 1, 2, 3 (10 signs up after the start); 2 churns.
    assert results["churn_rate"].value == pytest.approx(100 / 3)
    assert results["retention_rate"].value == pytest.approx(200 / 3)
    assert results["churn_rate"].n == 3


def test_zero_denominators_give_none(kpi):
    results = kpi.compute(
        ["churn_rate", "retention_rate", "active_customers", "new_customers"],
        WEEK,
        customers=[customer(1, "2026-11-17 00:00:00")],
    )
    assert results["churn_rate"].value is None
    assert results["retention_rate"].value is None
    assert results["churn_rate"].n == 0
    assert results["active_customers"].value == 1
    assert results["new_customers"].value == 1


def test_no_churn_is_zero_not_none(kpi):
    results = kpi.compute(
        ["churn_rate", "retention_rate"], WEEK, customers=[customer(1, "2026-01-01 00:00:00")]
    )
    assert (results["churn_rate"].value, results["retention_rate"].value) == (0.0, 100.0)


def test_segments_by_region(kpi):
    results = kpi.compute(
        ["churn_rate", "retention_rate", "active_customers", "new_customers"],
        WEEK,
        by="region",
        customers=CUSTOMERS,
    )
    assert segments(results["churn_rate"]) == [
        ("North", 0.0, 1),
        ("South", 100.0, 1),
        ("West", 0.0, 1),
        ("(none)", 0.0, 1),
    ]
    assert segments(results["retention_rate"]) == [
        ("North", 100.0, 1),
        ("South", 0.0, 1),
        ("West", 100.0, 1),
        ("(none)", 100.0, 1),
    ]
    assert segments(results["active_customers"]) == [
        ("North", 1, 1),
        ("South", 1, 1),
        ("West", 1, 1),
        ("(none)", 1, 1),
    ]
    assert segments(results["new_customers"]) == [
        ("North", 1, 1),
        ("South", 1, 1),
        ("West", 0, 0),
        ("(none)", 0, 0),
    ]


def test_segments_by_channel(kpi):
    result = kpi.compute("new_customers", WEEK, by="channel", customers=CUSTOMERS)
    assert segments(result) == [("ads", 1, 1), ("seo", 1, 1), ("(none)", 0, 0)]


def test_unknown_dimension_lists_the_known_ones(kpi):
    with pytest.raises(MappingError, match="unknown dimension 'galaxy': customers have channel, region"):
        kpi.compute("churn_rate", WEEK, by="galaxy", customers=CUSTOMERS)


def test_trend_matches_each_period(kpi):
    result = kpi.compute("churn_rate", WEEK, trend=3, customers=CUSTOMERS)
    assert [p.period for p in result.trend] == ["2026-W45", "2026-W46", "2026-W47"]
    assert [p.value for p in result.trend] == [0.0, 25.0, 25.0]


def test_churn_a_quarter_second_before_signup_is_invalid(kpi):
    # SQLite text: comparing two time columns must keep fractional seconds (datetime() would drop them).
    customers = [
        customer(1, "2026-11-01 10:00:00.250", "2026-11-01 10:00:00"),
        customer(2, "2026-11-01 10:00:00"),
    ]
    result = kpi.compute("active_customers", WEEK, customers=customers)
    assert (result.value, counts(result)) == (1, [1])
