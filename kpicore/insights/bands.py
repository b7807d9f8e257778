"""The plain band of an unusual change: a robust line through the recent values, as wide as its own
recent misses, never narrower than the week-to-week noise (the seasonal band is built on it).
"""

from __future__ import annotations

import functools
import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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
    proportional: bool | None = None,
) -> Band | None:
    """The plain band for the LAST value of ``values`` (oldest first); None with fewer than
    ``min_history`` earlier values. Its scale is at least ``floor`` (default: :func:`noise_floor`).
    ``proportional`` (default: every value positive): each miss is counted at the level of the period
    judged (:func:`at_level`), so a business that grew 30 % in the year is not judged by the smaller
    misses of its smaller past, nor a declining one by the larger misses of its larger past."""
    earlier = values[:-1]
    known = sum(v is not None for v in earlier)
    if known < max(min_history, 8):
        return None
    # After a level shift the recent weeks confirm, the weeks before it are read at the new level: the
    # shift's own weeks would otherwise be misses, and the band too wide for the half year after it.
    shift = level_shift(earlier, window + 2 * level_window, level_window)
    if shift is not None:
        at, step = shift
        earlier = [v + step if v is not None and i < at else v for i, v in enumerate(earlier)]
    expected = predict(earlier, level_window)
    if proportional is None:
        proportional = all(v > 0 for v in values if v is not None)
    errors = []
    for position in range(max(0, len(earlier) - window), len(earlier)):
        actual = earlier[position]
        if actual is None:
            continue
        guess = predict(earlier[:position], level_window)
        if guess is not None:
            errors.append((actual - guess) * (at_level(expected, guess) if proportional else 1.0))
    if expected is None or len(errors) < 8:
        return None
    center = statistics.median(errors)
    scale = trimmed_sd([e - center for e in errors])
    if scale == 0:
        # A flat history: the mean absolute error, so one odd point does not make every change infinite.
        scale = 1.2533 * statistics.fmean(abs(e - center) for e in errors)
    if floor is None:
        floor = noise_floor(earlier, 2 * window, expected if proportional else None)
    return Band(expected, max(scale, floor), threshold, "plain", None, known)


#: How a positive series' noise grows with its level: as the square root of the level's ratio (counts
#: grow their noise with the square root, amounts in proportion: the square root errs least on both).
NOISE_POWER = 0.5


def at_level(level: float | None, then: float) -> float:
    """The factor that brings a miss made at level ``then`` to ``level`` (1 when either is not positive)."""
    if level is None or level <= 0 or then <= 0:
        return 1.0
    return (level / then) ** NOISE_POWER


def noise_floor(values: Sequence[float | None], span: int, level: float | None = None) -> float:
    """The period-to-period noise of the last ``span`` values: the robust SD of the differences between
    neighbours over the square root of 2 (None values, and the pairs beside them, left out); with
    ``level``, each difference counted at that level (:func:`at_level`). A prediction misses by at
    least the noise, so a band is never narrower: half a year of misses can, by luck, be a third
    narrower than the noise (false flags for weeks after)."""
    recent = values[-span:]
    pairs = [(a, b) for a, b in itertools.pairwise(recent) if a is not None and b is not None]
    if len(pairs) < 8:
        return 0.0
    middle = _median([b - a for a, b in pairs])  # a steady slope is no noise
    return trimmed_sd([(b - a - middle) * at_level(level, (a + b) / 2) for a, b in pairs]) / math.sqrt(2)


#: A level shift counts when the weeks after it stand this many noise SDs from the weeks before ...
SHIFT = 4.0
#: ... for at least this many weeks, all but one in eight of them beyond half the step: a season's
#: peak of up to seven weeks, which ends, is not taken for a shift.
CONFIRM = 8


def level_shift(values: Sequence[float | None], span: int, side: int) -> tuple[int, float] | None:
    """(position, step) of the largest level shift among the last ``span`` of ``values`` that the weeks
    since confirm: ``values[position:]`` (at least ``CONFIRM`` known) stand ``step`` from the ``side``
    values before it (the medians of up to ``side`` values each side, along the slope within them), by
    at least ``SHIFT`` times the week-to-week noise, and nearly all of the values on each side lie on
    their own side of the halfway mark. None when there is none."""
    noise = noise_floor(values, span)
    if noise <= 0:
        return None
    known = [(i, v) for i, v in enumerate(values) if v is not None][-span:]
    best: tuple[float, int] | None = None
    for cut in range(side // 2, len(known) - CONFIRM + 1):
        before = [v for _, v in known[max(0, cut - side) : cut]]
        after = [v for _, v in known[cut : cut + side]]
        step = _median(after) - _median(before)
        if abs(step) >= SHIFT * noise and (best is None or abs(step) >= abs(best[0])):
            best = (step, cut)
    if best is None:
        return None
    # The medians' largest step can lie a few weeks inside the new level; the shift is where the
    # fewest values lie on the wrong side of halfway between the levels.
    up, first = best[0] > 0, best[1]
    halfway = _median([v for _, v in known[max(0, first - side) : first]]) + best[0] / 2

    def misplaced(cut: int) -> int:
        early = sum((v > halfway) == up for _, v in known[max(0, cut - side) : cut])
        return early + sum((v > halfway) != up for _, v in known[cut : cut + side])

    candidates = range(max(1, first - side), min(len(known) - CONFIRM, first + side) + 1)
    cut = min(candidates, key=lambda c: (misplaced(c), abs(c - first)))
    old_side, new_side = known[max(0, cut - side) : cut], known[cut:]
    # The slope within each side (never across the step), so a growing business is no shift.
    slopes = [
        (y2 - y1) / (x2 - x1)
        for part in (old_side, new_side[:side])
        for k, (x1, y1) in enumerate(part)
        for x2, y2 in part[k + 1 :]
    ]
    slope = _median(slopes) if slopes else 0.0
    old = _median([v - slope * i for i, v in old_side])
    new = _median([v - slope * i for i, v in new_side[:side]])
    step = new - old
    if abs(step) < SHIFT * noise:
        return None
    halfway = (old + new) / 2
    for part, above in ((old_side, step < 0), (new_side, step > 0)):
        wrong = sum(((v - slope * i) > halfway) != above for i, v in part)
        if wrong > len(part) // 8:
            return None
    return known[cut][0], step
