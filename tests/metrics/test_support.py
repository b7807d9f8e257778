"""fcr and escalation_rate: hand-computed cases (see data.py)."""

from __future__ import annotations

import pytest

from .data import CUSTOMERS, TICKETS

WEEK = "2026-W47"


def counts(result):
    return sorted(w.count for w in result.warnings)


def segments(result):
    return [(s.segment, s.value, s.n) for s in result.segments]


def test_fcr(kpi):
    result = kpi.compute("fcr", WEEK, tickets=TICKETS)
    # Resolved in P: 1 (at start), 2, 4 (contacts 0), 5 (1.5 contacts), 7, 10; 3 is resolved at end.
    assert (result.value, result.n) == (50.0, 4)  # 1 and 7 of 1, 2, 7, 10
    assert result.previous == 0.0  # W46: ticket 9 took 2 contacts
    assert counts(result) == [2]
    assert (
        result.warnings[0].message == "resolved tickets with contacts missing, not a whole number or below 1"
    )


def test_escalation_rate_counts_the_contacts_zero_ticket(kpi):
    result = kpi.compute("escalation_rate", WEEK, tickets=TICKETS)
    # Opened in P: 2 (at start), 3, 4 (contacts 0 is fine here), 5 (escalated NULL), 6, 10; 8 at end is out.
    assert (result.value, result.n) == (60.0, 5)  # 2, 4, 10 of 2, 3, 4, 6, 10
    assert result.previous == 50.0  # W46: tickets 1 and 9
    assert counts(result) == [1, 1]  # escalated NULL; no opened_at
    assert {w.message for w in result.warnings} == {
        "tickets with escalated missing",
        "tickets with no opened_at",
    }


def test_support_in_tokyo(kpi):
    results = kpi.compute(["fcr", "escalation_rate"], WEEK, tz="Asia/Tokyo", tickets=TICKETS)
    assert results["fcr"].value == pytest.approx(200 / 3)  # ticket 10 falls after the Tokyo week
    assert results["escalation_rate"].value == 50.0


def test_support_without_tickets_is_none(kpi):
    results = kpi.compute(["fcr", "escalation_rate"], WEEK, tickets=[])
    assert (results["fcr"].value, results["escalation_rate"].value) == (None, None)


def test_support_segments_by_region(kpi):
    results = kpi.compute(["fcr", "escalation_rate"], WEEK, by="region", tickets=TICKETS, customers=CUSTOMERS)
    assert segments(results["fcr"]) == [("North", 100.0, 1), ("South", 50.0, 2), ("(none)", 0.0, 1)]
    assert segments(results["escalation_rate"]) == [
        ("North", 0.0, 1),
        ("South", 100.0, 1),
        ("(none)", pytest.approx(200 / 3), 3),
    ]
