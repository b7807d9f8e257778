"""The year-over-year insight: on hand-built trends whose answer is known, and through `kpi insights`."""

from __future__ import annotations

import json

import pytest

from kpicore.insights.base import Evidence
from kpicore.insights.year_over_year import YearOverYear, usual_move, year_ago_value
from kpicore.periods import parse_period
from kpicore.results import MetricResult, TrendPoint


class _Metric:
    def __init__(self, name="revenue", title="Revenue", unit="currency", better="higher"):
        self.name, self.title, self.unit, self.better = name, title, unit, better


def _history(period_text, values):
    """TrendPoints for the len(values) periods ending with ``period_text`` (oldest first)."""
    periods = parse_period(period_text).trend(len(values))
    return [TrendPoint(p.label, p.start_iso(), p.end_iso(), v) for p, v in zip(periods, values, strict=True)]


def _detect(period_text, values, metric=None):
    metric = metric or _Metric()
    period = parse_period(period_text)
    history = _history(period_text, values)
    result = MetricResult(
        metric=metric.name,
        title=metric.title,
        unit=metric.unit,
        better=metric.better,
        status="ok",
        period=period.label,
        start="",
        end="",
        value=values[-1],
        previous=values[-2],
    )
    return YearOverYear().detect(Evidence(metric, period, result, history, {}, None, {}, {}))


def test_a_week_is_compared_with_the_same_iso_week_a_year_before():
    values = [100.0 + (i % 2) for i in range(55)]  # usual move: 1
    values[-1] = 130.0
    values[-53] = 110.0  # 2025-W47 is 52 weeks before 2026-W47
    (insight,) = _detect("2026-W47", values)
    assert insight.numbers["year_period"] == "2025-W47" and insight.numbers["year_value"] == 110.0
    assert insight.numbers["delta"] == 20.0 and insight.numbers["delta_pct"] == pytest.approx(100 * 20 / 110)
    assert insight.score == pytest.approx(0.4)  # 20 usual moves: the top of the range
    assert insight.needs_attention is False  # revenue up
    assert insight.text == "Revenue: $130.00 vs $110.00 in 2025-W47, a year before (+$20.00)."


def test_w53_is_compared_with_w52_fifty_three_weeks_back():
    values = [50.0] * 55
    values[-54] = 40.0  # 2025-W52 is 53 weeks before 2026-W53
    (insight,) = _detect("2026-W53", values)
    assert (insight.numbers["year_period"], insight.numbers["year_value"]) == ("2025-W52", 40.0)


def test_a_month_and_a_rate_in_points():
    churn = _Metric("churn_rate", "Churn rate", "percent", "lower")
    values = [2.0] * 14
    values[-13], values[-1] = 3.0, 2.5
    (insight,) = _detect("2026-11", values, churn)
    assert insight.numbers["year_period"] == "2025-11" and insight.numbers["delta"] == -0.5
    assert insight.numbers["delta_pct"] is None and insight.needs_attention is False


@pytest.mark.parametrize(
    ("blank", "why"),
    [
        (-53, "no value a year before"),
        (-54, "no value in the period before it: the history may start inside it"),
    ],
)
def test_no_insight_without_data_a_year_back(blank, why):
    values = [100.0] * 55
    values[blank] = 0.0  # an amount of 0: no data yet
    assert _detect("2026-W47", values) == [], why
    values[blank] = None
    assert _detect("2026-W47", values) == [], why
    assert year_ago_value(_history("2026-W47", values), parse_period("2026-W47"), "currency") is None


def test_too_short_a_history_gives_nothing():
    assert _detect("2026-W47", [100.0] * 20) == []


def test_usual_move():
    assert usual_move([1.0, 3.0, None, 4.0, 5.0, 9.0]) == 2.0
    assert usual_move([1.0]) is None


def test_kpi_insights_year_over_year_equals_compute_compare(run_kpi, tmp_path, demo_database):
    (tmp_path / "kpi.toml").write_text(f'[source]\nurl = "{demo_database}"\n', encoding="utf-8")
    code, out, err = run_kpi("insights", "revenue", "nps", "--period", "2026-W47", "--format", "json")
    assert code == 0, err
    found = {i["metric"]: i for i in json.loads(out) if i["kind"] == "year_over_year"}
    code, out, err = run_kpi(
        "compute", "revenue", "nps", "--period", "2026-W47", "--compare", "last-year", "--format", "json"
    )
    assert code == 0, err
    for result in json.loads(out):
        numbers = found[result["metric"]]["numbers"]
        assert numbers["year_period"] == result["compare"]["period"] == "2025-W47"
        assert numbers["year_value"] == pytest.approx(result["compare"]["value"])
        assert numbers["delta"] == pytest.approx(result["compare"]["delta"])
    code, out, err = run_kpi("insights", "revenue", "--period", "2025-W48", "--format", "json")
    assert code == 0, err
    assert [i for i in json.loads(out) if i["kind"] == "year_over_year"] == []  # the data starts in 2024-W48


@pytest.mark.parametrize("locale", ["ml", "bn", "fa", "ig"])
def test_the_sentence_is_translated(locale):
    values = [100.0] * 55
    (insight,) = _detect("2026-W47", values)
    sentence = insight.sentence(locale)
    assert sentence != insight.text and "a year before" not in sentence and "2025-W47" in sentence
