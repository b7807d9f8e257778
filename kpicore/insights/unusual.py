"""Unusual change: the period's value lies outside the band its own history predicts.

The band (``band()``, a pure function over the history's values) is robust, calibrated on the metric's
own history, and seasonal where the history allows:

- *Expected value*: a Theil-Sen line (the median of the slopes between every pair of points, so a few
  outliers or a growing business do not move it) through the last ``level_window`` values before the
  period, extended one period.
- *Width*: the same prediction made for each of the ``window`` periods before this one, from the values
  before each; the robust standard deviation (1.4826 x the median absolute deviation) of those errors is
  the band's ``scale``. So the band is as wide as the method's own recent misses: noise, a curving trend
  and what the line cannot follow are all in it, and an old outlier is one large error among many. The
  band is expected ± ``threshold`` x scale; fewer than ``min_history`` earlier values: no band.
- *Seasonal band*: daily data with weekly seasonality (season 7) and weekly data with yearly seasonality
  (season 52; monthly: 12), when two full seasons of history lie before every point the band uses. A
  point's seasonal effect is how far its value ``season`` and ``2 x season`` periods before stood from
  the median of its neighbours then, as a ratio for a metric whose values are all positive (a business
  that grows has peaks that grow with it), else as a difference. It counts only when every earlier
  season agrees in sign, and then the smaller one (the median of three or more), so one past outlier is
  not taken for a season. The band above then runs on the values with their seasonal effects taken out.
- With too little history for the seasonal band where one applies (a day or a week), the plain band is
  used and the insight says so.

Limits: the recent past must be a fair guide; after a level shift, the periods at the new level are
flagged until the window has seen them. Holidays that move (Easter) are not a season it knows. A
seasonal pattern must have repeated at least twice.
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

DEFAULTS = {"threshold": 3.5, "window": 26, "level_window": 13, "min_history": 12, "seasons": 2}


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
    slopes = [
        (y2 - y1) / (x2 - x1) for i, (x1, y1) in enumerate(points) for x2, y2 in points[i + 1 :] if x2 != x1
    ]
    slope = statistics.median(slopes) if slopes else 0.0
    intercept = statistics.median(y - slope * x for x, y in points)
    return slope, intercept


def predict(values: Sequence[float | None], level_window: int = DEFAULTS["level_window"]) -> float | None:
    """The value expected after ``values`` (oldest first): the Theil-Sen line through the last
    ``level_window`` of them, one period on; None with fewer than 4."""
    points = [(i, v) for i, v in enumerate(values) if v is not None][-level_window:]
    if len(points) < 4:
        return None
    slope, intercept = theil_sen(points)
    return intercept + slope * len(values)


def plain_band(
    values: Sequence[float | None],
    *,
    threshold: float = DEFAULTS["threshold"],
    window: int = DEFAULTS["window"],
    level_window: int = DEFAULTS["level_window"],
    min_history: int = DEFAULTS["min_history"],
) -> Band | None:
    """The plain band for the LAST value of ``values`` (oldest first); None with fewer than
    ``min_history`` earlier values."""
    earlier = values[:-1]
    known = sum(v is not None for v in earlier)
    if known < max(min_history, 8):
        return None
    expected = predict(earlier, level_window)
    errors = []
    for position in range(max(0, len(earlier) - window), len(earlier)):
        if earlier[position] is None:
            continue
        guess = predict(earlier[:position], level_window)
        if guess is not None:
            errors.append(earlier[position] - guess)
    if expected is None or len(errors) < 8:
        return None
    center = statistics.median(errors)
    scale = MAD_TO_SD * statistics.median(abs(e - center) for e in errors)
    if scale == 0:
        # A flat history: the mean absolute error, so one odd point does not make every change infinite.
        scale = 1.2533 * statistics.fmean(abs(e - center) for e in errors)
    return Band(expected, scale, threshold, "plain", None, known)


def seasonal_effects(
    values: Sequence[float | None], season: int, seasons: int = 2, *, ratio: bool = False
) -> list[float | None]:
    """Each point's seasonal effect (None where fewer than ``seasons`` earlier seasons exist or their
    values are missing): a difference, or with ``ratio`` a relative one (0.35 for +35 %). See the
    module docstring."""
    effects: list[float | None] = []
    for position in range(len(values)):
        earlier = []
        k = 1
        while position - k * season - NEIGHBOURS >= 0:
            then = position - k * season
            around = [
                values[i]
                for i in range(then - NEIGHBOURS, min(len(values), then + NEIGHBOURS + 1))
                if i != then and values[i] is not None
            ]
            if values[then] is None or len(around) < NEIGHBOURS:
                earlier = []
                break
            level = statistics.median(around)
            earlier.append(values[then] / level - 1 if ratio else values[then] - level)
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


def band(
    values: Sequence[float | None],
    kind: str,
    *,
    threshold: float = DEFAULTS["threshold"],
    window: int = DEFAULTS["window"],
    level_window: int = DEFAULTS["level_window"],
    min_history: int = DEFAULTS["min_history"],
    seasons: int = DEFAULTS["seasons"],
) -> Band | None:
    """The band for the LAST of ``values`` (oldest first), periods of ``kind``: seasonal when the
    history allows, else plain (``fallback`` set when a season applies but the history is short)."""
    season = SEASONS.get(kind)
    if season is not None:
        ratio = all(v > 0 for v in values if v is not None)
        effects = seasonal_effects(values, season, seasons, ratio=ratio)
        used = [
            i
            for i in range(max(0, len(values) - 1 - window - level_window), len(values))
            if values[i] is not None
        ]
        if effects[-1] is not None and all(effects[i] is not None for i in used):
            adjusted = [
                None
                if v is None or effects[i] is None
                else (v / (1 + effects[i]) if ratio else v - effects[i])
                for i, v in enumerate(values)
            ]
            found = plain_band(
                adjusted,
                threshold=threshold,
                window=window,
                level_window=level_window,
                min_history=min_history,
            )
            if found is not None:
                effect = effects[-1]
                if ratio:
                    return Band(
                        found.expected * (1 + effect),
                        found.scale * (1 + effect),
                        threshold,
                        "seasonal",
                        season,
                        found.history,
                    )
                return Band(
                    found.expected + effect, found.scale, threshold, "seasonal", season, found.history
                )
    found = plain_band(
        values, threshold=threshold, window=window, level_window=level_window, min_history=min_history
    )
    if found is None:
        return None
    return Band(
        found.expected, found.scale, threshold, "plain", None, found.history, fallback=kind in ("day", "week")
    )


def history_needed(kind: str, settings) -> int:
    """Periods of history (the period included) for a seasonal band of ``kind``, else a plain one."""
    window = int(settings.get("window", DEFAULTS["window"]))
    season = SEASONS.get(kind)
    if season is None:
        return window + int(settings.get("level_window", DEFAULTS["level_window"])) + 1
    level_window = int(settings.get("level_window", DEFAULTS["level_window"]))
    return int(settings.get("seasons", DEFAULTS["seasons"])) * season + window + level_window + NEIGHBOURS + 1


def score(z: float, threshold: float) -> float:
    """0.5 at the band's edge, rising to 1 at three times its distance."""
    if math.isinf(z):
        return 1.0
    return min(1.0, 0.5 + 0.5 * (abs(z) - threshold) / (2 * threshold))


MESSAGES = {
    ("high", "plain"): N_("%(metric)s is unusually high at %(value)s (expected %(low)s to %(high)s)."),
    ("low", "plain"): N_("%(metric)s is unusually low at %(value)s (expected %(low)s to %(high)s)."),
    ("high", "fallback"): N_(
        "%(metric)s is unusually high at %(value)s (expected %(low)s to %(high)s; "
        "plain band, too little history for a seasonal one)."
    ),
    ("low", "fallback"): N_(
        "%(metric)s is unusually low at %(value)s (expected %(low)s to %(high)s; "
        "plain band, too little history for a seasonal one)."
    ),
    ("high", 52): N_(
        "%(metric)s is unusually high at %(value)s for the time of year (expected %(low)s to %(high)s)."
    ),
    ("low", 52): N_(
        "%(metric)s is unusually low at %(value)s for the time of year (expected %(low)s to %(high)s)."
    ),
    ("high", 12): N_(
        "%(metric)s is unusually high at %(value)s for the time of year (expected %(low)s to %(high)s)."
    ),
    ("low", 12): N_(
        "%(metric)s is unusually low at %(value)s for the time of year (expected %(low)s to %(high)s)."
    ),
    ("high", 7): N_(
        "%(metric)s is unusually high at %(value)s for the day of the week (expected %(low)s to %(high)s)."
    ),
    ("low", 7): N_(
        "%(metric)s is unusually low at %(value)s for the day of the week (expected %(low)s to %(high)s)."
    ),
}


#: Units that cannot go below zero: a band's lower edge is shown as 0 at the lowest.
NON_NEGATIVE_UNITS = ("count", "currency", "percent", "minutes", "ratio")


def shown_low(found: Band, unit: str) -> float:
    """The band's lower edge as people read it: never below zero for a unit that cannot be."""
    return max(0.0, found.low) if unit in NON_NEGATIVE_UNITS else found.low


def unusual_insight(
    metric,
    period_label: str,
    value: float,
    found: Band,
    *,
    segment: str | None = None,
    title: str | None = None,
) -> Insight:
    """The insight for a value outside ``found`` (the caller checked ``found.outside(value)``)."""
    z = found.z(value)
    direction = "high" if z > 0 else "low"
    variant = found.season if found.method == "seasonal" else ("fallback" if found.fallback else "plain")
    worse = (direction == "high") == (metric.better == "lower")
    return Insight(
        metric=metric.name,
        kind="unusual",
        score=score(z, found.threshold),
        period=period_label,
        message=MESSAGES[(direction, variant)],
        values={
            "metric": Word(title or metric.title),
            "value": Number(value, metric.unit),
            "low": Number(shown_low(found, metric.unit), metric.unit),
            "high": Number(found.high, metric.unit),
        },
        segment=segment,
        numbers={
            "value": value,
            "expected": found.expected,
            "low": shown_low(found, metric.unit),
            "high": found.high,
            "robust_sd": found.scale,
            "z": None if math.isinf(z) else z,
            "threshold": found.threshold,
            "method": found.method,
            "season": found.season,
            "history": found.history,
            "fallback": found.fallback,
        },
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
    return band(
        values,
        kind,
        threshold=float(settings.get("threshold", DEFAULTS["threshold"])),
        window=int(settings.get("window", DEFAULTS["window"])),
        level_window=int(settings.get("level_window", DEFAULTS["level_window"])),
        min_history=int(settings.get("min_history", DEFAULTS["min_history"])),
        seasons=int(settings.get("seasons", DEFAULTS["seasons"])),
    )
