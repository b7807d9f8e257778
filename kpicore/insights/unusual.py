"""Unusual change: the period's value lies outside the band its own history predicts.

The band (``band()``, a pure function over the history's values) is robust, calibrated on the metric's
own history, and seasonal from the first full season of history:

- *Expected value*: a Theil-Sen line (the median of the slopes between every pair of points, so a few
  outliers or a growing business do not move it) through the last ``level_window`` values before the
  period, extended one period.
- *Width*: the same prediction made for each of the ``window`` periods before this one, from the values
  before each; the robust standard deviation (1.4826 x the median absolute deviation) of those errors is
  the band's ``scale``. So the band is as wide as the method's own recent misses.
- *Seasonal effects* (daily data: the day of the week; weekly and monthly data: the time of year). A
  point's effect in an earlier season is how far the value at the same point then (the same ISO week
  number, W53 with W52, as year over year compares) stood from the *level around it*: the median of its
  neighbours within ``reach`` periods on each side (noise from their week-to-week differences), after
  leaving out the neighbours that are themselves far from that median (a season's own peak of up to
  six weeks), then along the slope of those left, so the weeks beside a peak are measured against the
  ordinary level, not one the peak pulls up. It is a ratio for a metric whose
  values are all positive (a growing business's peaks grow with it), else a difference, and it counts
  only when it stands out from that neighbourhood's spread by ``SIGNIFICANT`` robust SDs (else 0).
- *Combining seasons*: with one earlier season the band spans its effect and none (a peak, or a
  one-off?), and the effects of the weeks either side of it then. With two or more: a season whose
  week was a one-off that year (standing out from both weeks beside it, away from the other seasons'
  effect, by more than two weeks' noise allows) where the others' was not is left out; seasons that
  agree in sign and within their noise (``AGREE`` robust SDs of their difference) measured one
  effect, and the band takes their mean, as unsure as a mean of that many weeks; seasons that agree
  in sign by more than that span their effects. The band above then runs on the values with their
  effects taken out (so the level, and a growing business's growth, come from the recent weeks), and
  the effect is put back on the period's expected value.
- *Doubt widens, never narrows*: when the seasons do not agree the band spans every reading, so
  neither is flagged: with one season, a peak or a one-off; with two or more, a week that stood out
  together with a week beside it (a peak's run of weeks) in one season only, the others showing none
  there (a drop that year). A week that stood out alone in one season only is a one-off: no effect. A week of the history
  takes the reading its own value bears out (:func:`_best_reading`).
- *Moving holidays* (weekly): Easter, Eid al-Fitr, Diwali and Nowruz from :mod:`.holidays`. A week
  holding one gets the effect of the week that held it a year before; a week that held one a year
  before but not now gets none from it. ``holiday_move`` (default 0) lets the band also span a peak up
  to that many weeks beside the week a year before, for holidays not in the calendar.
- *Width floor*: the band is never narrower than the week-to-week noise (:func:`noise_floor`).
- *Level shifts*: once eight weeks confirm a shift (:func:`kpicore.insights.bands.level_shift`), the
  weeks before it are read at the new level, so the shift's own weeks do not widen the band after it.
- With no earlier season in the history where one applies, the plain band is used (``fallback``).

Limits: the recent past must be a fair guide; after a level shift, the periods at the new level are
flagged until eight of them confirm it. A holiday outside the calendar that moves is flagged where it
lands the first time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..i18n import N_

# The band's parts, where their callers (alerts, trend, the evaluation) have always found them.
from .bands import DEFAULTS, MAX_SEASONS, SEASONS, Band, noise_floor, plain_band, predict, theil_sen  # noqa: F401
from .base import Detector, Evidence, Insight, Number, Span, Word
from .holidays import holidays_of
from .seasonal import (
    band,
    reach,
    seasonal_effect,  # noqa: F401
    year_lags,
)


def history_needed(kind: str, settings) -> int:
    """Periods of history (the period included) for a seasonal band of ``kind``, else a plain one."""
    window = int(settings.get("window", DEFAULTS["window"]))
    level_window = int(settings.get("level_window", DEFAULTS["level_window"]))
    season = SEASONS.get(kind)
    if season is None:
        return window + 2 * level_window + 1
    return MAX_SEASONS * season + window + 2 * level_window + reach(season) + 2


def score(z: float, threshold: float) -> float:
    """0.5 at the band's edge, rising to 1 at three times its distance."""
    if math.isinf(z):
        return 1.0
    return min(1.0, 0.5 + 0.5 * (abs(z) - threshold) / (2 * threshold))


MESSAGES = {
    ("high", "plain"): N_("%(metric)s is unusually high at %(value)s (expected %(low)s to %(high)s)."),
    ("low", "plain"): N_("%(metric)s is unusually low at %(value)s (expected %(low)s to %(high)s)."),
    # The method (a plain band where a seasonal one could not be had yet) is in the JSON's numbers:
    # readers get the finding, not the statistics.
    ("high", "fallback"): N_("%(metric)s is unusually high at %(value)s (expected %(low)s to %(high)s)."),
    ("low", "fallback"): N_("%(metric)s is unusually low at %(value)s (expected %(low)s to %(high)s)."),
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


#: An owner's words when the value is the highest (lowest) of at least ``RECORD_MIN`` periods.
RECORD = {
    "high": N_("%(metric)s jumped to %(value)s, the highest in %(span)s (expected %(low)s to %(high)s)."),
    "low": N_("%(metric)s fell to %(value)s, the lowest in %(span)s (expected %(low)s to %(high)s)."),
}
RECORD_MIN = 8


def record(value: float, earlier: Sequence[float | None], direction: str) -> int:
    """How many periods, this one included, ``value`` is the highest (``direction`` "high") or lowest
    of: it and the run of known values before it that it beats (a missing value ends the run)."""
    count = 1
    for before in reversed(earlier):
        if before is None or (before >= value if direction == "high" else before <= value):
            break
        count += 1
    return count


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
    earlier: Sequence[float | None] = (),
) -> Insight:
    """The insight for a value outside ``found`` (the caller checked ``found.outside(value)``);
    ``earlier``: the values before it (oldest first), to say "the highest in 12 weeks"."""
    z = found.z(value)
    direction = "high" if z > 0 else "low"
    variant = found.season if found.method == "seasonal" else ("fallback" if found.fallback else "plain")
    worse = (direction == "high") == (metric.better == "lower")
    values = {
        "metric": Word(title or metric.title),
        "value": Number(value, metric.unit),
        "low": Number(shown_low(found, metric.unit), metric.unit),
        "high": Number(found.high, metric.unit),
    }
    message = MESSAGES[(direction, variant)]
    periods = record(value, earlier, direction)
    if periods >= RECORD_MIN:
        message = RECORD[direction]
        values["span"] = Span(periods, period_label)
    return Insight(
        metric=metric.name,
        kind="unusual",
        score=score(z, found.threshold),
        period=period_label,
        message=message,
        values=values,
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
        labels = [point.period for point in evidence.history]
        found = band_of_history(evidence.values, labels, evidence.period.kind, evidence.settings)
        value = evidence.result.value
        assert value is not None, "no detector runs on a missing value"
        if found is None or not found.outside(value):
            return []
        earlier = evidence.values[:-1]
        return [unusual_insight(evidence.metric, evidence.result.period, value, found, earlier=earlier)]


def band_of_history(values, labels: Sequence[str], kind: str, settings) -> Band | None:
    """The band for the last of ``values``, whose periods are ``labels`` (as many, oldest first), with
    the ``[insights.unusual]`` settings: weekly data reads its ISO weeks (W53 with W52) and the moving
    holidays from the labels. The insight and the ``is unusual`` alert rule both judge by it."""
    weekly = kind == "week"
    labels = list(labels)[-len(values) :] if values else []
    lags = year_lags(labels) if weekly else ()
    holidays = holidays_of(labels) if weekly else ()
    return band_from_settings(values, kind, settings, lags, holidays)


def band_from_settings(
    values, kind: str, settings, lags: Sequence[int | None] = (), holidays: Sequence[frozenset[str]] = ()
) -> Band | None:
    """``band()`` with the ``[insights.unusual]`` settings."""
    return band(
        values,
        kind,
        threshold=float(settings.get("threshold", DEFAULTS["threshold"])),
        window=int(settings.get("window", DEFAULTS["window"])),
        level_window=int(settings.get("level_window", DEFAULTS["level_window"])),
        min_history=int(settings.get("min_history", DEFAULTS["min_history"])),
        seasons=int(settings.get("seasons", DEFAULTS["seasons"])),
        holiday_move=int(settings.get("holiday_move", DEFAULTS["holiday_move"])),
        lags=lags,
        holidays=holidays,
    )
