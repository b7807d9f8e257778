"""Trend and new trend: a sustained rise or fall over the last periods, and a change of direction.

Over the last ``periods`` values (the period included) the Mann-Kendall test asks whether the values
rise or fall more often than chance would have them (a rank test: robust to outliers and to the size of
the steps); the Theil-Sen slope says by how much per period. A *trend* is a test at ``confidence`` with
the values having moved by at least ``min_change`` (a fraction of the level) over the window. A *new
trend* is a trend whose direction is the opposite of a trend over the ``periods`` before it.

Limits: a trend needs ``periods`` values with no gap; seasonal swings longer than the window (a summer
rise) are reported as trends, since they are what happened over those periods.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..i18n import N_
from .base import Detector, Evidence, Insight, Number, Span, Word
from .unusual import theil_sen

DEFAULTS = {"periods": 8, "confidence": 0.99, "min_change": 0.05}


def mann_kendall(values: Sequence[float]) -> tuple[float, float]:
    """(z, two-sided p) of the Mann-Kendall trend test on ``values`` (oldest first), with the
    tie-corrected variance and the continuity correction."""
    n = len(values)
    s = sum((values[j] > values[i]) - (values[j] < values[i]) for i in range(n) for j in range(i + 1, n))
    ties: dict[float, int] = {}
    for value in values:
        ties[value] = ties.get(value, 0) + 1
    variance = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in ties.values())) / 18
    if variance <= 0:
        return 0.0, 1.0
    z = (s - 1) / math.sqrt(variance) if s > 0 else (s + 1) / math.sqrt(variance) if s < 0 else 0.0
    return z, math.erfc(abs(z) / math.sqrt(2))


def direction(
    values: Sequence[float | None], *, confidence: float, min_change: float
) -> tuple[int, float, float] | None:
    """(+1 rising / -1 falling / 0 none, slope per period, z) over ``values``; None with a gap or
    fewer than 4 values."""
    known = [v for v in values if v is not None]
    if len(values) < 4 or len(known) < len(values):
        return None
    z, p = mann_kendall(known)
    slope, _ = theil_sen(list(enumerate(known)))
    level = max(abs(sum(known) / len(known)), 1e-12)
    moved = abs(slope) * (len(known) - 1) / level
    if p < 1 - confidence and moved >= min_change and slope != 0:
        return (1 if slope > 0 else -1), slope, z
    return 0, slope, z


MESSAGES = {
    (1, False): N_("%(metric)s has risen over the last %(span)s, by %(change)s in all."),
    (-1, False): N_("%(metric)s has fallen over the last %(span)s, by %(change)s in all."),
    (1, True): N_(
        "%(metric)s has turned up: it rose over the last %(span)s (%(change)s) after falling before."
    ),
    (-1, True): N_(
        "%(metric)s has turned down: it fell over the last %(span)s (%(change)s) after rising before."
    ),
}


class Trend(Detector):
    kind = "trend"
    description = "a sustained rise or fall over the last periods, or a new one (a change of direction)"
    settings = dict(DEFAULTS)

    def history(self, metric, period, settings, options):
        return 2 * int(settings["periods"])

    def detect(self, evidence: Evidence) -> list[Insight]:
        periods = int(evidence.settings["periods"])
        values = evidence.values
        if len(values) < periods:
            return []
        recent = direction(
            values[-periods:],
            confidence=float(evidence.settings["confidence"]),
            min_change=float(evidence.settings["min_change"]),
        )
        if recent is None or recent[0] == 0:
            return []
        sign, slope, z = recent
        before = None
        if len(values) >= 2 * periods:
            before = direction(
                values[-2 * periods : -periods],
                confidence=float(evidence.settings["confidence"]),
                min_change=float(evidence.settings["min_change"]),
            )
        new = before is not None and before[0] == -sign
        change = slope * (periods - 1)
        if evidence.metric.unit == "count":
            change = round(change)  # a count moves in whole records
        worse = (sign > 0) == (evidence.metric.better == "lower")
        return [
            Insight(
                metric=evidence.metric.name,
                kind="new_trend" if new else "trend",
                # A new trend is news; a running one less so. Stronger evidence scores higher.
                score=(0.45 if new else 0.3) + 0.2 * min(1.0, abs(z) / 4),
                period=evidence.result.period,
                message=MESSAGES[(sign, new)],
                values={
                    "metric": Word(evidence.metric.title),
                    "span": Span(periods, evidence.result.period),
                    "change": Number(change, "change", of=evidence.metric.unit),
                },
                numbers={
                    "direction": "up" if sign > 0 else "down",
                    "periods": periods,
                    "slope": slope,
                    "change": change,
                    "z": z,
                    "new": new,
                    "previous_slope": before[1] if before else None,
                },
                needs_attention=worse,
            )
        ]
