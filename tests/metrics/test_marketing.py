"""cac: hand-computed cases (see data.py)."""

from __future__ import annotations

import pytest

from .data import CUSTOMERS, MARKETING_SPEND

WEEK = "2026-W47"


def counts(result):
    return sorted(w.count for w in result.warnings)


def test_cac(kpi):
    result = kpi.compute("cac", WEEK, customers=CUSTOMERS, marketing_spend=MARKETING_SPEND)
    # Spend on Nov 16..22: 100 + 50 - 20 (a credit) = 130; new customers: 4 (at start) and 5.
    assert (result.value, result.n) == (65.0, 2)
    assert result.previous == 70.0  # W46: 70 spent on Nov 15, customer 10
    assert counts(result) == [1, 1, 1]  # spend with no amount, spend with no date, customer with no signup
    assert {w.message for w in result.warnings} == {
        "marketing spend rows with no amount or an amount that is not a number (kpi check --data shows examples)",
        "marketing spend rows with no spent_on date",
        "customers with no signup time",
    }


def test_cac_in_tokyo(kpi):
    # spent_on dates are business-timezone days (same days); customer 10 signs up in the Tokyo week.
    result = kpi.compute("cac", WEEK, tz="Asia/Tokyo", customers=CUSTOMERS, marketing_spend=MARKETING_SPEND)
    assert (result.value, result.n) == (pytest.approx(130 / 3), 3)


def test_cac_without_new_customers_is_none(kpi):
    result = kpi.compute("cac", WEEK, customers=[], marketing_spend=MARKETING_SPEND)
    assert (result.value, result.n) == (None, 0)


def test_cac_by_channel_pairs_spend_and_customers(kpi):
    result = kpi.compute("cac", WEEK, by="channel", customers=CUSTOMERS, marketing_spend=MARKETING_SPEND)
    # ads: 100 - 20 over customer 4; seo: 50 over customer 5; customer 7 has no channel.
    assert [(s.segment, s.value, s.n) for s in result.segments] == [
        ("ads", 80.0, 1),
        ("seo", 50.0, 1),
        ("(none)", None, 0),
    ]


def test_cac_by_region_cannot_split_spend(kpi):
    result = kpi.compute("cac", WEEK, by="region", customers=CUSTOMERS, marketing_spend=MARKETING_SPEND)
    assert result.value == 65.0
    assert result.segments is None
    assert "marketing_spend records have no customer" in result.warnings[-1].message
