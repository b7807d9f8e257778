"""nps and csat: hand-computed cases (see data.py)."""

from __future__ import annotations

import pytest

from .data import CUSTOMERS, SURVEY_RESPONSES

WEEK = "2026-W47"


def counts(result):
    return sorted(w.count for w in result.warnings)


def segments(result):
    return [(s.segment, s.value, s.n) for s in result.segments]


def test_nps(kpi):
    result = kpi.compute("nps", WEEK, survey_responses=SURVEY_RESPONSES)
    # Valid in P: 10 (at start), 9 (23:59:59Z), 6 (fractional seconds), 7 (+01:00); 0 at end is out.
    assert (result.value, result.n) == (25.0, 4)
    assert result.previous == -100.0  # W46: one 3
    assert counts(result) == [1, 3]  # scores 11, 7.5, NULL; one response with no time
    assert {w.message for w in result.warnings} == {
        "nps responses with a score that is missing, not a whole number or outside 0..10",
        "nps responses with no responded_at",
    }


def test_nps_in_tokyo(kpi):
    result = kpi.compute("nps", WEEK, tz="Asia/Tokyo", survey_responses=SURVEY_RESPONSES)
    assert (result.value, result.n) == (0.0, 3)  # the Sunday 23:59:59 UTC promoter moves out


def test_csat(kpi):
    result = kpi.compute("csat", WEEK, survey_responses=SURVEY_RESPONSES)
    assert result.value == pytest.approx(200 / 3)  # 5 and 4 of 5, 4, 2
    assert result.n == 3
    assert result.previous is None  # no csat responses in W46: None, not 0
    assert counts(result) == [2]  # scores 0 and 4.5


def test_surveys_with_no_responses_are_none(kpi):
    results = kpi.compute(["nps", "csat"], WEEK, survey_responses=[])
    assert (results["nps"].value, results["csat"].value, results["nps"].n) == (None, None, 0)


def test_survey_segments_by_region(kpi):
    results = kpi.compute(
        ["nps", "csat"], WEEK, by="region", customers=CUSTOMERS, survey_responses=SURVEY_RESPONSES
    )
    # Customer 3 has no region and response 4 no customer: both in (none).
    assert segments(results["nps"]) == [("North", 100.0, 1), ("South", 100.0, 1), ("(none)", -50.0, 2)]
    assert segments(results["csat"]) == [("North", 100.0, 1), ("South", 100.0, 1), ("(none)", 0.0, 1)]
