"""Year over year: the period against the same one a year before, where the history reaches that far.

The same period a year before is :func:`kpicore.periods.year_before` (the same ISO week number, W53 with
W52; the same month, quarter or year), read from the metric's trend (aggregates computed in SQL with
the period, no extra query). There is no insight rather than a wrong one when the history does not hold
that period and the one before it with values: a count or an amount of 0 there is taken as "no data
yet" (a source whose history starts later), as is a missing value. The score grows with the change
measured against the metric's usual period-to-period movement (the median absolute change over its
history): a year-over-year change of six usual moves or more scores 0.4, none 0.2 (a comparison,
ranked below an unusual change).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from statistics import median

from ..errors import PeriodError
from ..i18n import N_
from ..periods import year_before
from .base import Detector, Evidence, Insight, Number, Word

#: Periods of trend (the period included) that reach the same period a year before and the one before
#: it: a week a year before is 52 or 53 weeks back.
HISTORY = {"week": 55, "month": 14, "quarter": 6, "year": 3}
ADDITIVE_UNITS = ("count", "currency")
MESSAGE = N_("%(metric)s: %(value)s vs %(year_value)s in %(year_period)s, a year before (%(change)s).")


def year_ago_value(history: Sequence, period, unit: str) -> tuple[str, float] | None:
    """(label, value) of the same period a year before in ``history`` (TrendPoints), or None when the
    history does not hold it, or it or the period before it has no value (0 for counts and amounts)."""
    try:
        earlier = year_before(period)
        before = earlier.previous()
    except PeriodError:
        return None
    values = {point.period: point.value for point in history}
    found, preceding = values.get(earlier.label), values.get(before.label)
    if found is None or preceding is None:
        return None
    if unit in ADDITIVE_UNITS and 0 in (found, preceding):
        return None
    return earlier.label, found


def usual_move(values: Sequence[float | None]) -> float | None:
    """The median absolute change between consecutive values (None when there are fewer than two)."""
    moves = [abs(b - a) for a, b in pairwise(values) if a is not None and b is not None]
    return median(moves) if moves else None


class YearOverYear(Detector):
    kind = "year_over_year"
    description = "the period against the same one a year before (ISO week number, month, quarter, year)"

    def history(self, metric, period, settings, options):
        return HISTORY.get(period.kind, 0) if period.kind != "range" else 0

    def detect(self, evidence: Evidence) -> list[Insight]:
        metric, result = evidence.metric, evidence.result
        if evidence.period.kind not in HISTORY or evidence.period.elapsed is not None:
            return []  # a to-date period's trend points are partial spans: leave it to --compare last-year
        found = year_ago_value(evidence.history, evidence.period, metric.unit)
        if found is None:
            return []
        label, year_value = found
        assert result.value is not None, "no detector runs on a missing value"
        change = result.value - year_value
        usual = usual_move(evidence.values[:-1])
        strength = 1.0 if not usual else min(1.0, abs(change) / usual / 6)
        if usual == 0 and change == 0:
            strength = 0.0
        good = change == 0 or (change > 0) == (metric.better == "higher")
        return [
            Insight(
                metric=metric.name,
                kind=self.kind,
                score=0.2 + 0.2 * strength,
                period=result.period,
                message=MESSAGE,
                values={
                    "metric": Word(metric.title),
                    "value": Number(result.value, metric.unit),
                    "year_value": Number(year_value, metric.unit),
                    "year_period": label,
                    "change": Number(change, "change", of=metric.unit),
                },
                numbers={
                    "value": result.value,
                    "year_period": label,
                    "year_value": year_value,
                    "delta": change,
                    "delta_pct": None
                    if metric.unit in ("percent", "points") or year_value == 0
                    else 100 * change / abs(year_value),
                    "usual_move": usual,
                },
                needs_attention=not good,
            )
        ]
