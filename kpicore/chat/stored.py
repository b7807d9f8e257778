"""Answers from stored values: a metric's value, trend and comparison read from the state database when
every one was stored less than ``[chat] max_age`` ago (else the answer is computed live)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kpicore.chat.grammar import MetricRequest
from kpicore.results import MetricResult, Segment, TrendPoint


def _segments(values, current_key, previous_key, dimension: str) -> list[Segment]:
    """The stored segments of one metric and period, each with its value in the comparison period (as a
    live compute gives them: the digest and chat order segments by how much each one moved)."""
    prefix = f"{dimension}="

    def of(period_key) -> dict[str, Any]:
        return {
            k[3][len(prefix) :]: v
            for k, v in values.items()
            if k[:3] == period_key[:3] and k[3].startswith(prefix)
        }

    current, previous = of(current_key), of(previous_key)
    segments = [
        Segment(
            name,
            value.value,
            value.n or 0,
            previous=previous[name].value if name in previous else None,
            previous_n=previous[name].n if name in previous else None,
        )
        for name, value in current.items()
    ]
    return sorted(segments, key=lambda s: (s.segment == "(none)", s.segment))


def stored_results(answerer, request: MetricRequest, dimension: str | None):
    """``(results, oldest computed_at)`` from stored values younger than max_age, or None."""
    from kpicore.state import _utc, read_values

    if request.year_over_year:
        return None  # computed live: whether there is data a year back is part of the answer
    source = answerer.source()
    trend = request.period.trend(answerer.settings.trend)
    comparison = request.vs or request.period.previous()
    spans = {(p.start_iso(), p.end_iso()) for p in (*trend, comparison, request.period)}
    fresh_since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=answerer.settings.max_age)
    values = read_values(
        answerer.config,
        source.display,
        list(request.metrics),
        sorted(spans),
        fresh_since=fresh_since,
        dimension=dimension,
    )

    def key(metric: str, period, segment: str = "") -> tuple[str, str, str, str]:
        return (metric, _utc(period.start_iso()), _utc(period.end_iso()), segment)

    results, oldest = [], dt.datetime.now(dt.UTC)
    for name in request.metrics:
        metric = answerer.registry.metric(name)
        current, previous = values.get(key(name, request.period)), values.get(key(name, comparison))
        found = [values.get(key(name, p)) for p in trend]
        points = [p for p in found if p is not None]
        # A value stored only as a trend point has no n: the answer needs one, so it is computed.
        if current is None or current.n is None or previous is None or len(points) < len(found):
            return None
        segments = None
        if dimension is not None:
            segments = _segments(values, key(name, request.period), key(name, comparison), dimension)
            if not segments:
                return None
        oldest = min([oldest, current.computed_at, previous.computed_at, *(p.computed_at for p in points)])
        results.append(
            MetricResult.of(
                metric,
                request.period,
                value=current.value,
                previous=previous.value,
                n=current.n,
                n_noun=metric.count_noun(answerer.config),
                dimension=dimension,
                segments=segments,
                trend=[
                    TrendPoint(p.label, p.start_iso(), p.end_iso(), v.value)
                    for p, v in zip(trend, points, strict=True)
                ],
            )
        )
    return results, oldest
