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
  neighbours within ``reach`` periods on each side, after leaving out the neighbours that are
  themselves far from that median (a season's own peak of up to six weeks), so the weeks beside a peak
  are measured against the ordinary level, not one the peak pulls up. It is a ratio for a metric whose
  values are all positive (a growing business's peaks grow with it), else a difference, and it counts
  only when it stands out from that neighbourhood's spread by ``SIGNIFICANT`` robust SDs (else 0).
- *Combining seasons*: with one earlier season its effect is the expected one; with two, the smaller
  when both agree in sign; with three or more, their median. The band above then runs on the values
  with their effects taken out (so the level, and a growing business's growth, come from the recent
  weeks), and the effect is put back on the period's expected value.
- *Doubt widens, never narrows*: when the seasons do not agree (a peak seen in one season only: a
  season, or a one-off?) the band spans every reading, so neither is flagged. A week of the history
  takes the reading its own value bears out (:func:`_best_reading`).
- *Moving holidays* (weekly): Easter, Eid al-Fitr, Diwali and Nowruz from :mod:`.holidays`. A week
  holding one gets the effect of the week that held it a year before; a week that held one a year
  before but not now gets none from it. ``holiday_move`` (default 0) lets the band also span a peak up
  to that many weeks beside the week a year before, for holidays not in the calendar.
- *Width floor*: the band is never narrower than the week-to-week noise (:func:`noise_floor`).
- With no earlier season in the history where one applies, the plain band is used (``fallback``).

Limits: the recent past must be a fair guide; after a level shift, the periods at the new level are
flagged until the window has seen them. A holiday outside the calendar that moves is flagged where it
lands the first time.
"""

from __future__ import annotations

import functools
import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ..i18n import N_
from .base import Detector, Evidence, Insight, Number, Span, Word
from .holidays import holidays_of

#: The season, in periods, of each period kind that has one.
SEASONS = {"day": 7, "week": 52, "month": 12}
#: A robust standard deviation is this many median absolute deviations (for normal noise).
MAD_TO_SD = 1.4826
#: An earlier season's effect counts when it stands out from its neighbourhood by this many robust SDs.
SIGNIFICANT = 4.0
#: Two or more seasons that agree in sign, each standing out by this many robust SDs, are a season.
AGREE = 2.5
#: Earlier seasons looked at, at most.
MAX_SEASONS = 3

DEFAULTS: dict[str, Any] = {
    "threshold": 3.0,
    "window": 26,
    "level_window": 13,
    "min_history": 12,
    "seasons": 1,
    "holiday_move": 0,
}


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
    """The value expected after ``values`` (oldest first); None with fewer than 4 of them.

    With ``2 x level_window`` values: the slope is the median of the slopes between each of the older
    ``level_window`` values and each of the recent ones (robust, and steadier than a line through half
    as many), and the level the trimmed mean of the last ``level_window`` values carried
    to the next period along it (the middle half of them: one or two outliers move it not at all).
    With fewer: the Theil-Sen line through the last ``level_window``, one period on."""
    end = len(values)
    points = [(i - end, v) for i, v in enumerate(values) if v is not None][-2 * level_window :]
    return _predict(tuple(points), level_window)


@functools.lru_cache(maxsize=1 << 16)
def _predict(points: tuple[tuple[int, float], ...], level_window: int) -> float | None:
    """``predict()`` on its known points, positions counted back from the period predicted (at 0): a
    pure function of them, so the same neighbourhood is computed once (a band reads each twice)."""
    if len(points) < 4:
        return None
    if len(points) < 2 * level_window:
        slope, intercept = theil_sen(points[-level_window:])
        return intercept
    older, recent = points[:level_window], points[level_window:]
    slope = _median([(y2 - y1) / (x2 - x1) for x1, y1 in older for x2, y2 in recent])
    carried = sorted(y - slope * x for x, y in recent)
    cut = len(carried) // 4
    return statistics.fmean(carried[cut : len(carried) - cut])


def _median(data: list[float]) -> float:
    ordered = sorted(data)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


#: Share of the largest misses a band's width leaves out (past outliers, last year's peak).
TRIM = 0.1


def trimmed_sd(deviations: Sequence[float]) -> float:
    """A robust standard deviation of ``deviations`` (centred on 0): the root mean square of all but the
    largest ``TRIM`` of them, scaled to be the SD for normal noise. More stable than the median absolute
    deviation on a half year of misses (its spread is about half), and as blind to a few outliers."""
    ordered = sorted(abs(d) for d in deviations)
    kept = ordered[: max(1, len(ordered) - math.ceil(TRIM * len(ordered)))]
    share = len(kept) / len(ordered)
    edge = statistics.NormalDist().inv_cdf((1 + share) / 2) if share < 1 else math.inf
    # E[x^2 | |x| < edge] for standard normal x
    inner = 1.0 if math.isinf(edge) else 1 - 2 * edge * statistics.NormalDist().pdf(edge) / share
    return math.sqrt(statistics.fmean(d * d for d in kept) / inner)


def plain_band(
    values: Sequence[float | None],
    *,
    threshold: float = DEFAULTS["threshold"],
    window: int = DEFAULTS["window"],
    level_window: int = DEFAULTS["level_window"],
    min_history: int = DEFAULTS["min_history"],
    floor: float | None = None,
) -> Band | None:
    """The plain band for the LAST value of ``values`` (oldest first); None with fewer than
    ``min_history`` earlier values. Its scale is at least ``floor`` (default: :func:`noise_floor`)."""
    earlier = values[:-1]
    known = sum(v is not None for v in earlier)
    if known < max(min_history, 8):
        return None
    expected = predict(earlier, level_window)
    errors = []
    for position in range(max(0, len(earlier) - window), len(earlier)):
        actual = earlier[position]
        if actual is None:
            continue
        guess = predict(earlier[:position], level_window)
        if guess is not None:
            errors.append(actual - guess)
    if expected is None or len(errors) < 8:
        return None
    center = statistics.median(errors)
    scale = trimmed_sd([e - center for e in errors])
    if scale == 0:
        # A flat history: the mean absolute error, so one odd point does not make every change infinite.
        scale = 1.2533 * statistics.fmean(abs(e - center) for e in errors)
    if floor is None:
        floor = noise_floor(earlier, 2 * window)
    return Band(expected, max(scale, floor), threshold, "plain", None, known)


def noise_floor(values: Sequence[float | None], span: int) -> float:
    """The period-to-period noise of the last ``span`` values: the robust SD of the differences between
    neighbours over the square root of 2 (None values, and the pairs beside them, left out). A
    prediction misses by at least the noise, so a band is never narrower: half a year of misses can,
    by luck, be a third narrower than the noise (false flags for weeks after)."""
    recent = values[-span:]
    differences = [b - a for a, b in itertools.pairwise(recent) if a is not None and b is not None]
    if len(differences) < 8:
        return 0.0
    middle = _median(differences)
    return trimmed_sd([d - middle for d in differences]) / math.sqrt(2)


def reach(season: int) -> int:
    """Neighbours on each side of an earlier season's point that give the level around it."""
    return 13 if season >= 52 else max(2, season // 2)


def year_lags(labels: Sequence[str]) -> list[int | None]:
    """For each weekly label (``2026-W47``), how many positions back the same ISO week number of the
    year before lies (W53 with W52, as year over year compares; 53 after a 53-week year); None where
    that is before the first label. Other labels: None (the season's length applies)."""
    lags: list[int | None] = []
    for position, label in enumerate(labels):
        lag = None
        if len(label) == 8 and label[4:6] == "-W":
            year, week = int(label[:4]), int(label[6:])
            weeks_before = date(year - 1, 12, 28).isocalendar().week
            then = date.fromisocalendar(year - 1, min(week, weeks_before), 1)
            lag = (date.fromisocalendar(year, week, 1) - then).days // 7
        lags.append(lag if lag is not None and position - lag >= 0 else None)
    return lags


def _level_around(values: Sequence[float | None], point: int, season: int) -> tuple[float, float] | None:
    """(level, robust SD) at ``point`` from its neighbours, along their local slope (a growing business),
    leaving out those far from the rest (a season's peak, up to half a reach long)."""
    width = reach(season)
    around = tuple(
        (i - point, values[i])
        for i in range(max(0, point - width), min(len(values), point + width + 1))
        if i != point and values[i] is not None
    )
    return _level_of(around, width)


@functools.lru_cache(maxsize=1 << 16)
def _level_of(around: tuple[tuple[int, float], ...], width: int) -> tuple[float, float] | None:
    """``_level_around()`` on the (offset, value) neighbours: a pure function of them, computed once
    for the many bands that read the same earlier weeks."""
    if len(around) < width:
        return None
    for _ in range(2):
        before = [v for i, v in around if i < 0]
        after = [v for i, v in around if i > 0]
        slope = (_median(after) - _median(before)) / (width + 1) if before and after else 0.0
        residuals = [v - slope * i for i, v in around]
        level = _median(residuals)
        spread = MAD_TO_SD * _median([abs(r - level) for r in residuals])
        kept = tuple(
            p for p, r in zip(around, residuals, strict=True) if abs(r - level) <= SIGNIFICANT * spread
        )
        if spread == 0 or len(kept) == len(around) or len(kept) < width:
            break
        around = kept
    return level, spread


def _effect(
    values: Sequence[float | None], point: int, season: int, ratio: bool, bar: float = 0.0
) -> float | None:
    """The seasonal effect at an earlier ``point`` against the level around it: 0 unless it stands out
    by more than ``bar`` (default ``SIGNIFICANT``) robust SDs; None when it cannot be measured."""
    if not 0 <= point < len(values):
        return None
    value = values[point]
    if value is None:
        return None
    found = _level_around(values, point, season)
    if found is None or (ratio and found[0] <= 0):
        return None
    level, spread = found
    if abs(value - level) <= (bar or SIGNIFICANT) * spread:
        return 0.0
    return value / level - 1 if ratio else value - level


def _earlier(position: int, lags: Sequence[int | None], season: int, seasons: int) -> list[int]:
    """The positions of the same point in up to ``seasons`` earlier seasons, most recent first."""
    found: list[int] = []
    while len(found) < seasons:
        lag = lags[position] if lags else season
        if lag is None or position - lag < 0:
            break
        position -= lag
        found.append(position)
    return found


@dataclass(frozen=True)
class Season:
    """A point's seasonal effect (``effect``, put on its expected value) and every reading the band
    must allow (``readings``: the seasons' disagreements, a peak beside it); None: no earlier season."""

    effect: float
    readings: tuple[float, ...]
    seasons: int
    #: The SD of a week's value around its level then, as the effect's own unit: how unsure it is.
    uncertainty: float = 0.0


def seasonal_effect(
    values: Sequence[float | None],
    position: int,
    season: int,
    *,
    ratio: bool,
    lags: Sequence[int | None] = (),
    move: int = 1,
    holidays: Sequence[frozenset[str]] = (),
) -> Season | None:
    """The seasonal effect of ``values[position]`` from the earlier seasons in ``values`` (see the
    module docstring); None when no earlier season is there. ``holidays``: per value, the moving
    holidays its period holds (:func:`kpicore.insights.holidays.holidays_of`)."""
    earlier = _earlier(position, lags, season, MAX_SEASONS)
    mine = holidays[position] if holidays else frozenset()
    effects: list[
        float
    ] = []  # each season's, counted from AGREE robust SDs (agreeing seasons are evidence enough)
    strong = 0.0
    for then in earlier:
        effect = _effect(values, then, season, ratio, AGREE)
        if effect is None:
            break
        if holidays and holidays[then] - mine:
            effect = 0.0  # that week held a holiday this one does not: its effect was the holiday's
        elif not effects:
            strong = _effect(values, then, season, ratio) or 0.0
        effects.append(effect)
    if not effects:
        return None
    effect, readings = _combine(effects, strong)
    readings.update(_moved(values, earlier[: len(effects)], season, ratio, move))
    for name in sorted(mine - (holidays[earlier[0]] if holidays else frozenset())):
        found = _holiday(values, earlier[: len(effects)], name, season, ratio, holidays)
        if found is not None:
            extra, options = found
            effect = _add(effect, extra, ratio)
            readings = {_add(r, o, ratio) for r in readings for o in options}
    readings.add(effect)
    uncertainty = 0.0
    if any(readings):
        level, spread = _level_around(values, earlier[0], season) or (1.0, 0.0)
        uncertainty = spread / level if ratio and level > 0 else spread
    return Season(effect, tuple(sorted(readings)), len(effects), uncertainty)


def _combine(effects: list[float], strong: float) -> tuple[float, set[float]]:
    """One effect from each earlier season's (most recent first), and the readings the band must
    allow: seasons that agree in sign, the smaller of two, the median of more (else none); one season
    (``strong``: its effect counted from ``SIGNIFICANT`` robust SDs): a peak, or a one-off? Both."""
    if len(effects) >= 2:
        agreeing = [e for e in effects if e > 0] if sum(e > 0 for e in effects) >= 2 else []
        agreeing = agreeing or ([e for e in effects if e < 0] if sum(e < 0 for e in effects) >= 2 else [])
        effect = min(agreeing, key=abs) if len(agreeing) == 2 else statistics.median(agreeing or [0.0])
        return effect, set()
    return strong, {0.0}


def _add(effect: float, other: float, ratio: bool) -> float:
    return (1 + effect) * (1 + other) - 1 if ratio else effect + other


#: Weeks either side of the same week a year before where a moving holiday is looked for.
HOLIDAY_REACH = 8


def _holiday(values, earlier: list[int], name: str, season: int, ratio: bool, holidays):
    """(effect, readings) of the moving holiday ``name`` from the weeks that held it in the earlier
    seasons (each found near ``earlier``'s position), as :func:`_combine` reads them; None when no
    earlier season held it."""
    effects = []
    for then in earlier:
        held = [
            p
            for p in range(max(0, then - HOLIDAY_REACH), min(len(values), then + HOLIDAY_REACH + 1))
            if name in holidays[p]
        ]
        effect = _effect(values, held[0], season, ratio, AGREE) if held else None
        if effect is None:
            break
        effects.append(effect)
    if not effects:
        return None
    # The calendar says a holiday is there: an effect standing out by AGREE robust SDs counts from
    # one season on, and seasons that agree give their mean (the smaller of two would understate it).
    same = [e for e in effects if e and (e > 0) == (effects[0] > 0)]
    if len(effects) == 1:
        return effects[0], {0.0, effects[0]}
    effect = statistics.fmean(same) if len(same) >= 2 else 0.0
    return effect, {effect}


def _moved(values, earlier: list[int], season: int, ratio: bool, move: int) -> set[float]:
    """The effects of a peak up to ``move`` periods beside this point a season ago, when it may be a
    holiday that moved: with one season, any; with more, one that was not beside it the season before
    (a fixed peak next door makes this an ordinary week) but was near it then (it recurs; a one-off
    does not)."""
    found = set()
    for offset in (o for step in range(1, move + 1) for o in (-step, step)):
        beside = _effect(values, earlier[0] + offset, season, ratio)
        if not beside:
            continue
        if len(earlier) >= 2:
            then = [_effect(values, earlier[1] + o, season, ratio, AGREE) for o in range(-move - 2, move + 3)]
            same_side = [e for e in then if e and (e > 0) == (beside > 0)]
            fixed = then[offset + move + 2]
            if not same_side or (fixed and (fixed > 0) == (beside > 0)):
                continue
        found.add(beside)
    return found


def band(
    values: Sequence[float | None],
    kind: str,
    *,
    threshold: float = DEFAULTS["threshold"],
    window: int = DEFAULTS["window"],
    level_window: int = DEFAULTS["level_window"],
    min_history: int = DEFAULTS["min_history"],
    seasons: int = DEFAULTS["seasons"],
    holiday_move: int = DEFAULTS["holiday_move"],
    lags: Sequence[int | None] = (),
    holidays: Sequence[frozenset[str]] = (),
) -> Band | None:
    """The band for the LAST of ``values`` (oldest first), periods of ``kind``: seasonal when the
    history holds ``seasons`` earlier seasons, else plain (``fallback`` set when a season applies).
    ``lags``: per value, the positions back to the same period a year before (:func:`year_lags`), for
    weeks whose years have 53 weeks; by default the season's length."""
    season = SEASONS.get(kind)
    if season is not None and values and values[-1] is not None:
        found = _seasonal_band(
            values,
            season,
            threshold,
            window,
            level_window,
            min_history,
            seasons,
            holiday_move,
            lags,
            holidays,
        )
        if found is not None:
            return found
    found = plain_band(
        values, threshold=threshold, window=window, level_window=level_window, min_history=min_history
    )
    if found is None:
        return None
    return Band(
        found.expected, found.scale, threshold, "plain", None, found.history, fallback=season is not None
    )


def _seasonal_band(
    values, season, threshold, window, level_window, min_history, seasons, move, lags, holidays
):
    ratio = all(v > 0 for v in values if v is not None)
    last = len(values) - 1
    move = move if season >= 52 else 0  # holidays move within a year of weeks, not a week of days
    holidays = holidays if season >= 52 else ()
    own = seasonal_effect(values, last, season, ratio=ratio, lags=lags, move=move, holidays=holidays)
    if own is None or own.seasons < seasons:
        return None
    adjusted = list(values)
    for position in range(max(0, last - window - 2 * level_window), last):
        if values[position] is None:
            continue
        found = seasonal_effect(values, position, season, ratio=ratio, lags=lags, move=0, holidays=holidays)
        if found is None:
            # No earlier season to tell: a point far from the level around it (last year's peak, seen
            # once) stands in at that level, so it neither widens the band nor pulls the line.
            outlier = _effect(values, position, season, ratio)
            if outlier:
                adjusted[position] = values[position] / (1 + outlier) if ratio else values[position] - outlier
        else:
            effect = _best_reading(values, position, season, ratio, found) if any(found.readings) else 0.0
            adjusted[position] = values[position] / (1 + effect) if ratio else values[position] - effect
    # the noise of the weeks the season left as they were (a week set at its level has none)
    kept = [v if a == v else None for v, a in zip(values[:last], adjusted[:last], strict=True)]
    band = plain_band(
        adjusted,
        threshold=threshold,
        window=window,
        level_window=level_window,
        min_history=min_history,
        floor=noise_floor(kept, 2 * window),
    )
    if band is None:
        return None
    edges = []
    for effect in own.readings:
        center = band.expected * (1 + effect) if ratio else band.expected + effect
        # the band's own width (noise grows with the square root of a peak: counts), and the effect's
        # uncertainty, measured from a few noisy weeks a season ago
        noise = band.scale * (math.sqrt(1 + effect) if ratio else 1)
        unsure = (band.expected * own.uncertainty if ratio else own.uncertainty) if effect else 0.0
        half = threshold * math.hypot(noise, unsure)
        edges.append((center - half, center + half))
    low, high = min(e[0] for e in edges), max(e[1] for e in edges)
    expected, scale = (low + high) / 2, (high - low) / (2 * threshold)
    if len(own.readings) == 1:
        expected = band.expected * (1 + own.effect) if ratio else band.expected + own.effect
    return Band(expected, scale, threshold, "seasonal", season, band.history)


def _best_reading(values, position: int, season: int, ratio: bool, found: Season) -> float:
    """Of an earlier point's seasonal readings, the one its own value bears out: the effect that brings
    it nearest the level around it. A week of the history is known, so a peak a year before that did
    not come back (a one-off then) is not taken out of it, and a peak that did is."""
    around = _level_around(values, position, season)
    if around is None:
        return found.effect
    level = around[0]
    value = values[position]

    def left(effect: float) -> float:
        return abs((value / (1 + effect) if ratio else value - effect) - level)

    return min(found.readings, key=left)


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
        weekly = evidence.period.kind == "week"
        labels = [point.period for point in evidence.history]
        lags = year_lags(labels) if weekly else ()
        holidays = holidays_of(labels) if weekly else ()
        found = band_from_settings(evidence.values, evidence.period.kind, evidence.settings, lags, holidays)
        value = evidence.result.value
        assert value is not None, "no detector runs on a missing value"
        if found is None or not found.outside(value):
            return []
        earlier = evidence.values[:-1]
        return [unusual_insight(evidence.metric, evidence.result.period, value, found, earlier=earlier)]


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
