"""conversion_rate: hand-computed cases (see data.py)."""

from __future__ import annotations

import pytest

from .data import CUSTOMERS, LEADS

WEEK = "2026-W47"


def test_conversion_rate_is_cohort_conversion(kpi):
    result = kpi.compute("conversion_rate", WEEK, leads=LEADS)
    # Created in P: 1 (at start, converts a month later: counts), 2, 3 (23:59:59.9, converts next day);
    # 4 is created at end (out); 5 converted before it was created (invalid); 6 has no created_at.
    assert result.value == pytest.approx(200 / 3)
    assert result.n == 3
    assert result.previous == 0.0  # W46: lead 7 (+01:00) has not converted
    assert sorted(w.count for w in result.warnings) == [1, 1]
    assert {w.message for w in result.warnings} == {
        "leads converted before they were created",
        "leads with no created_at",
    }


def test_conversion_rate_in_tokyo(kpi):
    result = kpi.compute("conversion_rate", WEEK, tz="Asia/Tokyo", leads=LEADS)
    assert (result.value, result.n) == (50.0, 2)  # lead 3 falls after the Tokyo week


def test_conversion_rate_without_leads_is_none(kpi):
    assert kpi.compute("conversion_rate", WEEK, leads=[]).value is None


def test_conversion_rate_by_channel(kpi):
    result = kpi.compute("conversion_rate", WEEK, by="channel", leads=LEADS)
    assert [(s.segment, s.value, s.n) for s in result.segments] == [
        ("ads", 100.0, 1),
        ("seo", 0.0, 1),
        ("(none)", 100.0, 1),
    ]


def test_conversion_rate_by_region_is_a_warning(kpi):
    result = kpi.compute("conversion_rate", WEEK, by="region", leads=LEADS, customers=CUSTOMERS)
    assert result.segments is None
    assert "leads records have no customer" in result.warnings[-1].message
