"""A fixed list of MetricResults for digest tests: every unit, a breakdown, an unavailable metric."""

from __future__ import annotations

from kpicore.digest.render import DigestSpec
from kpicore.results import MetricResult, Segment, TrendPoint, Warning_

PERIOD = "2026-W47"
START = "2026-11-16T00:00:00+01:00"
END = "2026-11-23T00:00:00+01:00"


def weekly_trend(values: list[float | None]) -> list[TrendPoint]:
    """Trend points for the weeks ending with 2026-W47, oldest first."""
    first_week = 47 - len(values) + 1
    return [
        TrendPoint(period=f"2026-W{week:02d}", start="", end="", value=value)
        for week, value in zip(range(first_week, 48), values, strict=False)
    ]


def result(metric: str, title: str, unit: str, better: str, value, previous, n, **extra) -> MetricResult:
    return MetricResult(
        metric=metric,
        title=title,
        unit=unit,
        better=better,
        status="ok",
        period=PERIOD,
        start=START,
        end=END,
        value=value,
        previous=previous,
        n=n,
        **extra,
    )


def sample_results() -> list[MetricResult]:
    """Seven metrics covering currency, count, points, percent (up, down, flat), an unavailable one."""
    return [
        result(
            "revenue",
            "Revenue",
            "currency",
            "higher",
            48210.5,
            45120.0,
            812,
            n_noun="orders",
            trend=weekly_trend([39000, 41000.5, 40500, 43800, 45120, 48210.5]),
        ),
        result(
            "new_customers",
            "New customers",
            "count",
            "higher",
            126,
            131,
            126,
            n_noun="customers",
            trend=weekly_trend([110, 118, 125, 140, 131, 126]),
        ),
        result(
            "nps",
            "Net Promoter Score",
            "points",
            "higher",
            42.0,
            38.5,
            214,
            n_noun="responses",
            warnings=[Warning_("score out of range 0..10", 3)],
            segments=[
                Segment("North", 51.2, 120, previous=44.0),
                Segment("South", 30.9, 81, previous=31.5),
                Segment("(none)", 23.1, 13, previous=30.0),
            ],
            dimension="region",
            trend=weekly_trend([35, 37, None, 40, 38.5, 42]),
        ),
        result("csat", "Customer satisfaction", "percent", "higher", 87.5, 87.5, 96, n_noun="responses"),
        result(
            "churn_rate",
            "Churn rate",
            "percent",
            "lower",
            2.1,
            2.6,
            4120,
            n_noun="customers",
            trend=weekly_trend([2.8, 2.7, 2.9, 2.6, 2.6, 2.1]),
        ),
        result("cac", "Customer acquisition cost", "currency", "lower", 58.4, 51.0, 126, n_noun="customers"),
        MetricResult(
            metric="fcr",
            title="First-contact resolution",
            unit="percent",
            better="higher",
            status="unavailable",
            period=PERIOD,
            start=START,
            end=END,
            reason="the source has no table for entity 'tickets'",
        ),
    ]


def sample_spec(**overrides) -> DigestSpec:
    values = {
        "name": "weekly",
        "title": "Weekly KPIs",
        "metrics": [r.metric for r in sample_results()],
        "breakdowns": {"nps": "region"},
        "destinations": ["slack:#kpis"],
    }
    values.update(overrides)
    return DigestSpec(**values)


def sample_insights() -> list:
    """Three insights as the detectors make them: an unusual value (its band hand-built), a
    concentration and a forecast, highest score first."""
    from types import SimpleNamespace

    from kpicore.insights.base import Insight, Number, Word
    from kpicore.insights.unusual import Band, unusual_insight

    cac = SimpleNamespace(name="cac", title="Customer acquisition cost", unit="currency", better="lower")
    unusual = unusual_insight(cac, PERIOD, 58.4, Band(50.2, 1.9, 3.0, "plain", None, 26))
    concentration = Insight(
        metric="revenue",
        kind="concentration",
        score=0.41,
        period=PERIOD,
        message="%(metric)s: %(share)s from %(dimension)s %(segment)s alone (%(value)s of %(total)s).",
        values={
            "metric": Word("Revenue"),
            "share": Number(0.62, "share"),
            "dimension": Word("channel"),
            "segment": "online",
            "value": Number(29890.51, "currency"),
            "total": Number(48210.5, "currency"),
        },
        segment="channel = online",
        numbers={"share": 0.62},
    )
    forecast = Insight(
        metric="revenue",
        kind="forecast",
        score=0.2,
        period=PERIOD,
        message="Forecast for %(next)s: %(metric)s %(value)s (%(level)s likely between %(low)s and %(high)s).",
        values={
            "next": "2026-W48",
            "metric": Word("Revenue"),
            "value": Number(49020.0, "currency"),
            "low": Number(46100.0, "currency"),
            "high": Number(51940.0, "currency"),
            "level": Number(0.8, "share"),
        },
        numbers={"forecast": 49020.0},
        needs_attention=False,
    )
    return [unusual, concentration, forecast]
