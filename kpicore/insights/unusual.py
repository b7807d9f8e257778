"""Unusual change: the period's value lies outside the band its own history predicts.

The band (``band()``, a pure function over the history's values) is robust, and seasonal where the
history allows:

- *Plain band*: over the last ``window`` periods before this one, a Theil-Sen line (the median of the
  slopes between every pair of points: a few outliers or a growing business do not move it) gives the
  expected value for this period, and 1.4826 x the median absolute deviation of the points from that
  line (the robust standard deviation, ``scale``) gives the width: the band is expected ± ``threshold``
  x scale. Fewer than ``min_history`` earlier values: no band, no insight.
- *Seasonal band*: daily data with weekly seasonality (season 7) and weekly data with yearly seasonality
  (season 52; monthly: 12), when at least two full seasons of history lie before every point used. Each
  point's seasonal effect is its value ``season`` and ``2 x season`` periods earlier minus the median of
  the neighbours around it then; the effect counts only when every earlier season agrees in sign, and
  then the smaller one (the median with three seasons or more), so one past outlier is not taken for a
  season. The plain band then runs on the values minus their seasonal effects.
- With too little history for the seasonal band where one applies (a day or a week), the plain band is
  used and the insight says so.

Limits: the band assumes the recent past is a fair guide; right after a level shift the first periods
at the new level are flagged until ``window`` periods have passed. Holidays that move (Easter) are not
a season it knows. A seasonal pattern must have repeated at least twice.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from ..i18n import N_
from .base import Detector, Evidence, Insight, Number, Word

#: The season, in periods, of each period kind that has one.
SEASONS = {"day": 7, "week": 52, "month": 12}
#: A robust standard deviation is this many median absolute deviations (for normal noise).
MAD_TO_SD = 1.4826
#: Neighbours on each side used for the local level when estimating a seasonal effect.
NEIGHBOURS = 3

DEFAULTS = {"threshold": 3.0, "window": 26, "min_history": 8, "seasons": 2}


@dataclass(frozen=True)
class Band:
    """The range expected for a value: ``expected`` ± ``threshold`` x ``scale`` (robust SD)."""

    expected: float
    scale: float
    threshold: float
    method: str  # "plain" or "seasonal"
    season: int | None  # periods per season when seasonal
    history: int  # earlier values it was estimated from
    #: True when a seasonal band applies to the period kind but the history was too short for it.
    fallback: bool = False

    @property
    def low(self) -> float:
        return self.expected - self.threshold * self.scale

    @property
    def high(self) -> float:
        return self.expected + self.threshold * self.scale

    def z(self, value: float) -> float:
        """How many robust standard deviations ``value`` lies from the expected value."""
        if self.scale > 0:
            return (value - self.expected) / self.scale
        return 0.0 if value == self.expected else math.copysign(math.inf, value - self.expected)

    def outside(self, value: float | None) -> bool:
        """True when ``value`` lies outside the band (never for a missing value)."""
        return value is not None and abs(self.z(value)) > self.threshold


def theil_sen(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """(slope, intercept) of the Theil-Sen line through (x, y) points: the median pairwise slope, and
    the median of y - slope x."""
    slopes = [(y2 - y1) / (x2 - x1) for i, (x1, y1) in enumerate(points) for x2, y2 in points[i + 1:] if x2 != x1]
    slope = statistics.median(slopes) if slopes else 0.0
    intercept = statistics.median(y - slope * x for x, y in points)
    return slope, intercept


def plain_band(values: Sequence[float | None], *, threshold: float = DEFAULTS["threshold"],
               window: int = DEFAULTS["window"], min_history: int = DEFAULTS["min_history"]) -> Band | None:
    """The plain band for the LAST value of ``values`` (oldest first) from the ``window`` before it;
    None with fewer than ``min_history`` earlier values."""
    position = len(values) - 1
    earlier = [(i, v) for i, v in enumerate(values[:-1]) if v is not None][-window:]
    if len(earlier) < max(2, min_history):
        return None
    slope, intercept = theil_sen(earlier)
    residuals = [v - (intercept + slope * i) for i, v in earlier]
    center = statistics.median(residuals)
    scale = MAD_TO_SD * statistics.median(abs(r - center) for r in residuals)
    if scale == 0:
        # A flat history: the mean absolute deviation, so one odd point does not make every change infinite.
        scale = 1.2533 * statistics.fmean(abs(r - center) for r in residuals)
    return Band(intercept + slope * position, scale, threshold, "plain", None, len(earlier))


def seasonal_effects(values: Sequence[float | None], season: int, seasons: int = 2) -> list[float | None]:
    """Each point's seasonal effect (None where fewer than ``seasons`` earlier seasons exist or their
    values are missing): see the module docstring."""
    effects: list[float | None] = []
    for position in range(len(values)):
        earlier = []
        k = 1
        while position - k * season - NEIGHBOURS >= 0:
            then = position - k * season
            around = [values[i] for i in range(then - NEIGHBOURS, min(len(values), then + NEIGHBOURS + 1))
                      if i != then and values[i] is not None]
            if values[then] is None or len(around) < NEIGHBOURS:
                earlier = []
                break
            earlier.append(values[then] - statistics.median(around))
            k += 1
        if len(earlier) < seasons:
            effects.append(None)
        elif len(earlier) >= 3:
            effects.append(statistics.median(earlier))
        elif all(e > 0 for e in earlier) or all(e < 0 for e in earlier):
            effects.append(min(earlier, key=abs))
        else:
            effects.append(0.0)
    return effects


def band(values: Sequence[float | None], kind: str, *, threshold: float = DEFAULTS["threshold"],
         window: int = DEFAULTS["window"], min_history: int = DEFAULTS["min_history"],
         seasons: int = DEFAULTS["seasons"]) -> Band | None:
    """The band for the LAST of ``values`` (oldest first), periods of ``kind``: seasonal when the
    history allows, else plain (``fallback`` set when a season applies but the history is short)."""
    season = SEASONS.get(kind)
    if season is not None:
        effects = seasonal_effects(values, season, seasons)
        recent = range(max(0, len(values) - 1 - window), len(values))
        usable = [i for i in recent if values[i] is not None]
        if effects[-1] is not None and sum(effects[i] is not None for i in usable) >= max(min_history, len(usable) - 1):
            adjusted = [None if v is None or effects[i] is None else v - effects[i] for i, v in enumerate(values)]
            found = plain_band(adjusted, threshold=threshold, window=window, min_history=min_history)
            if found is not None:
                return Band(found.expected + effects[-1], found.scale, threshold, "seasonal", season, found.history)
    found = plain_band(values, threshold=threshold, window=window, min_history=min_history)
    if found is None:
        return None
    fallback = kind in ("day", "week")
    return Band(found.expected, found.scale, threshold, "plain", None, found.history, fallback=fallback)


def history_needed(kind: str, settings) -> int:
    """Periods of history (the period included) for a seasonal band of ``kind``, else a plain one."""
    window = int(settings.get("window", DEFAULTS["window"]))
    season = SEASONS.get(kind)
    if season is None:
        return window + 1
    return int(settings.get("seasons", DEFAULTS["seasons"])) * season + window + NEIGHBOURS + 1


def score(z: float, threshold: float) -> float:
    """0.5 at the band's edge, rising to 1 at three times its distance."""
    if math.isinf(z):
        return 1.0
    return min(1.0, 0.5 + 0.5 * (abs(z) - threshold) / (2 * threshold))


MESSAGES = {
    ("high", "plain"): N_("%(metric)s is unusually high at %(value)s (expected %(low)s to %(high)s)."),
    ("low", "plain"): N_("%(metric)s is unusually low at %(value)s (expected %(low)s to %(high)s)."),
    ("high", "fallback"): N_("%(metric)s is unusually high at %(value)s (expected %(low)s to %(high)s; "
                          "plain band, too little history for a seasonal one)."),
    ("low", "fallback"): N_("%(metric)s is unusually low at %(value)s (expected %(low)s to %(high)s; "
                         "plain band, too little history for a seasonal one)."),
    ("high", 52): N_("%(metric)s is unusually high at %(value)s for the time of year (expected %(low)s to %(high)s)."),
    ("low", 52): N_("%(metric)s is unusually low at %(value)s for the time of year (expected %(low)s to %(high)s)."),
    ("high", 12): N_("%(metric)s is unusually high at %(value)s for the time of year (expected %(low)s to %(high)s)."),
    ("low", 12): N_("%(metric)s is unusually low at %(value)s for the time of year (expected %(low)s to %(high)s)."),
    ("high", 7): N_("%(metric)s is unusually high at %(value)s for the day of the week "
                 "(expected %(low)s to %(high)s)."),
    ("low", 7): N_("%(metric)s is unusually low at %(value)s for the day of the week (expected %(low)s to %(high)s)."),
}


#: Units that cannot go below zero: a band's lower edge is shown as 0 at the lowest.
NON_NEGATIVE_UNITS = ("count", "currency", "percent", "minutes", "ratio")


def shown_low(found: Band, unit: str) -> float:
    """The band's lower edge as people read it: never below zero for a unit that cannot be."""
    return max(0.0, found.low) if unit in NON_NEGATIVE_UNITS else found.low


def unusual_insight(metric, period_label: str, value: float, found: Band, *, segment: str | None = None,
                    title: str | None = None) -> Insight:
    """The insight for a value outside ``found`` (the caller checked ``found.outside(value)``)."""
    z = found.z(value)
    direction = "high" if z > 0 else "low"
    variant = found.season if found.method == "seasonal" else ("fallback" if found.fallback else "plain")
    worse = (direction == "high") == (metric.better == "lower")
    return Insight(
        metric=metric.name, kind="unusual", score=score(z, found.threshold), period=period_label,
        message=MESSAGES[(direction, variant)],
        values={"metric": Word(title or metric.title), "value": Number(value, metric.unit),
                "low": Number(shown_low(found, metric.unit), metric.unit), "high": Number(found.high, metric.unit)},
        segment=segment,
        numbers={"value": value, "expected": found.expected, "low": shown_low(found, metric.unit), "high": found.high,
                 "robust_sd": found.scale, "z": None if math.isinf(z) else z, "threshold": found.threshold,
                 "method": found.method, "season": found.season, "history": found.history,
                 "fallback": found.fallback},
        needs_attention=worse,
    )


class UnusualChange(Detector):
    kind = "unusual"
    description = "the value lies outside the robust (seasonal where possible) band of its own history"
    settings = dict(DEFAULTS)

    def history(self, metric, period, settings, options):
        return history_needed(period.kind, settings)

    def detect(self, evidence: Evidence) -> list[Insight]:
        found = band_from_settings(evidence.values, evidence.period.kind, evidence.settings)
        value = evidence.result.value
        if found is None or not found.outside(value):
            return []
        return [unusual_insight(evidence.metric, evidence.result.period, value, found)]


def band_from_settings(values, kind: str, settings) -> Band | None:
    """``band()`` with the ``[insights.unusual]`` settings."""
    return band(values, kind, threshold=float(settings.get("threshold", DEFAULTS["threshold"])),
                window=int(settings.get("window", DEFAULTS["window"])),
                min_history=int(settings.get("min_history", DEFAULTS["min_history"])),
                seasons=int(settings.get("seasons", DEFAULTS["seasons"])))
