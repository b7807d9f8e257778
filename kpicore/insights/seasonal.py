"""The seasonal band of an unusual change: each earlier season's effect at the same point of the year
(or week), measured against the level around it, moving holidays included, put back on the plain band
(the method is described in :mod:`kpicore.insights.unusual`).
"""

from __future__ import annotations

import functools
import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from .bands import (
    AGREE,
    DEFAULTS,
    MAD_TO_SD,
    MAX_SEASONS,
    NOISE_POWER,
    SEASONS,
    SIGNIFICANT,
    Band,
    _median,
    noise_floor,
    plain_band,
    predict,
    theil_sen,
)
from .holidays import week_first_day


def reach(season: int) -> int:
    """Neighbours on each side of an earlier season's point that give the level around it."""
    return 13 if season >= 52 else max(2, season // 2)


def year_lags(labels: Sequence[str]) -> list[int | None]:
    """For each weekly label, how many positions back the same week of the year before lies; None
    where that is before the first label. An ISO week (``2026-W47``) compares with the same ISO week
    number (W53 with W52, as year over year compares; 53 back after a 53-week year). A week labelled
    by its days (``2026-11-14..2026-11-20``: weeks starting on Saturday or Sunday, which have no ISO
    number) compares by date: with the week 52 weeks back, whose days are the same dates a year before
    but one or two (53 weeks back they would be five or six days off). Other labels: None (the
    season's length applies)."""
    lags: list[int | None] = []
    for position, label in enumerate(labels):
        lag = None
        if len(label) == 8 and label[4:6] == "-W":
            year, week = int(label[:4]), int(label[6:])
            weeks_before = date(year - 1, 12, 28).isocalendar().week
            then = date.fromisocalendar(year - 1, min(week, weeks_before), 1)
            lag = (date.fromisocalendar(year, week, 1) - then).days // 7
        elif week_first_day(label) is not None:
            lag = 52
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
    spread = _spread(around)
    # Level first (a peak on one side would pass for a slope), then the slope of what is left.
    slope, kept = 0.0, around
    for _ in range(3):
        level = _median([v - slope * i for i, v in kept])
        if spread == 0:
            break
        near = tuple(p for p in around if abs(p[1] - slope * p[0] - level) <= SIGNIFICANT * spread)
        if len(near) < width or (near == kept and slope):
            break
        kept = near
        slope = theil_sen(kept)[0]
    return _median([v - slope * i for i, v in kept]), spread


def _spread(around: tuple[tuple[int, float], ...]) -> float:
    """The noise of neighbours (offset, value): the robust SD of the differences between neighbouring
    weeks over the square root of 2. A peak of several weeks among them moves two differences, not the
    median's spread (which a six-week peak in 26 neighbours inflates until the peak no longer stands
    out from it), and a local slope moves none."""
    steps = [b - a for (i, a), (j, b) in itertools.pairwise(around) if j - i == 1]
    if len(steps) < 4:
        return 0.0
    middle = _median(steps)
    return MAD_TO_SD * _median([abs(d - middle) for d in steps]) / math.sqrt(2)


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
        # the same holiday then and now (Nowruz on its week): the calendar says it is there
        held = bool(holidays) and bool(holidays[then] & mine)
        effect = _effect(values, then, season, ratio, HOLIDAY_BAR if held else AGREE)
        if effect is None:
            break
        if holidays and holidays[then] - mine:
            effect = 0.0  # that week held a holiday this one does not: its effect was the holiday's
        elif not effects:
            strong = effect if held else _effect(values, then, season, ratio) or 0.0
        effects.append(effect)
    if not effects:
        return None
    effect, readings, unsure = _combine(values, earlier[: len(effects)], effects, strong, season, ratio)
    combined = effect
    readings.update(_moved(values, earlier[: len(effects)], season, ratio, move))
    if len(effects) == 1:
        readings.update(_beside(values, earlier[0], season, ratio, strong))
    for name in sorted(mine - (holidays[earlier[0]] if holidays else frozenset())):
        found = _holiday(values, earlier[: len(effects)], name, season, ratio, holidays)
        if found is not None:
            extra, options = found
            effect = _add(effect, extra, ratio)
            readings = {_add(r, o, ratio) for r in readings for o in options}
    readings.add(effect)
    uncertainty = 0.0
    if unsure is not None and readings == {effect} and effect == combined:
        uncertainty = unsure
    elif any(readings):
        level, spread = _level_around(values, earlier[0], season) or (1.0, 0.0)
        uncertainty = spread / level if ratio and level > 0 else spread
    return Season(effect, tuple(sorted(readings)), len(effects), uncertainty)


def _combine(
    values, earlier: list[int], effects: list[float], strong: float, season: int, ratio: bool
) -> tuple[float, set[float], float | None]:
    """One effect from each earlier season's (most recent first, at ``earlier``), the readings the
    band must allow, and the effect's uncertainty when the seasons measured one effect together (None:
    that of the most recent season's week).

    With two seasons or more: a season whose week was a one-off that year (:func:`_one_off`) where
    the others' was not is left out. Seasons that agree in sign and within their noise measured one
    effect: their mean, as unsure as a mean of that many weeks. Seasons that agree in sign by more
    than their noise allows: each of them (the effect the smaller of two, the median of more); else
    none. One season (``strong``: its effect counted from ``SIGNIFICANT`` robust SDs): a peak, or a
    one-off? Both."""
    if len(effects) < 2:
        return strong, {0.0}, None
    measured = [
        _unsure(values, then, season, ratio, effect) for then, effect in zip(earlier, effects, strict=True)
    ]
    unsure = [u for u in measured if u is not None]
    if len(unsure) < len(effects):
        unsure = []
    else:
        odd = [
            i
            for i in range(len(effects))
            if _stands_apart(values, earlier, effects, unsure, i, season, ratio)
        ]
        if len(odd) == 1:
            effects = [e for i, e in enumerate(effects) if i != odd[0]]
            unsure = [u for i, u in enumerate(unsure) if i != odd[0]]
            earlier = [t for i, t in enumerate(earlier) if i != odd[0]]
            if len(effects) == 1:
                return effects[0], {effects[0]}, unsure[0]
    same = [i for i, e in enumerate(effects) if e > 0] if sum(e > 0 for e in effects) >= 2 else []
    same = same or ([i for i, e in enumerate(effects) if e < 0] if sum(e < 0 for e in effects) >= 2 else [])
    agreeing = [effects[i] for i in same]
    if unsure and agreeing:
        noise = max(unsure[i] for i in same)
        if max(agreeing) - min(agreeing) <= AGREE * math.sqrt(2) * noise:
            mean = statistics.fmean(agreeing)
            return mean, {mean}, math.sqrt(sum(unsure[i] ** 2 for i in same)) / len(same)
    if not agreeing:
        # A week that stood out together with a week beside it (a run of weeks: a peak's shape, not a
        # one-off) is a season, or the seasons that show none held a one-off against it: both.
        runs = {
            e
            for e, then in zip(effects, earlier, strict=True)
            if e and _in_run(values, then, season, ratio, e)
        }
        return 0.0, {0.0, *runs}, None
    effect = min(agreeing, key=abs) if len(agreeing) == 2 else statistics.median(agreeing)
    return effect, set(agreeing), None


def _in_run(values, then: int, season: int, ratio: bool, effect: float) -> bool:
    """True when a week beside ``then`` stood out from the level that year on the same side as
    ``effect`` (by ``AGREE`` robust SDs): the week is part of a run, a peak of several weeks."""
    beside = (_effect(values, then + offset, season, ratio, AGREE) for offset in (-1, 1))
    return any(b and (b > 0) == (effect > 0) for b in beside)


def _unsure(values, then: int, season: int, ratio: bool, effect: float) -> float | None:
    """How unsure an earlier season's ``effect`` at ``then`` is: one week's noise there (its
    neighbourhood's, grown with the square root of the effect's height, as a count's noise grows),
    in the effect's unit; None when it cannot be measured."""
    found = _level_around(values, then, season)
    if found is None or (ratio and found[0] <= 0):
        return None
    level, spread = found
    return spread / level * (1 + effect) ** NOISE_POWER if ratio else spread


def _stands_apart(values, earlier, effects, unsure, index: int, season: int, ratio: bool) -> bool:
    """True when season ``index``'s effect lies further from the others' (their median) than the
    two weeks' noise allows (``AGREE`` robust SDs of their difference), and its week was a one-off
    that year on that side (:func:`_one_off`), while no other season's week was."""
    others = [e for i, e in enumerate(effects) if i != index]
    noise = math.hypot(unsure[index], statistics.median(u for i, u in enumerate(unsure) if i != index))
    apart = effects[index] - statistics.median(others)
    if abs(apart) <= AGREE * noise:
        return False
    side = 1 if apart > 0 else -1
    if not _one_off(values, earlier[index], season, ratio, side):
        return False
    return not any(
        _one_off(values, earlier[i], season, ratio, side) for i in range(len(effects)) if i != index
    )


def _one_off(values, then: int, season: int, ratio: bool, side: int) -> bool:
    """True when the week at ``then`` stands out from both weeks beside it that year on ``side`` (1:
    above, -1: below) by more than two weeks' noise allows (``AGREE`` robust SDs of a difference; the
    noise of the neighbourhood, grown with the square root of the week's height): a spike, not the
    season's shape (a peak of one week stands out from both its neighbours in every year it recurs)."""
    found = _level_around(values, then, season)
    value = values[then]
    if found is None or value is None:
        return False
    level, spread = found
    noise = spread * (value / level) ** NOISE_POWER if ratio and level > 0 and value > 0 else spread
    for beside in (then - 1, then + 1):
        if not 0 <= beside < len(values) or values[beside] is None:
            return False
        if side * (value - values[beside]) <= AGREE * math.sqrt(2) * noise:
            return False
    return True


def _beside(values, then: int, season: int, ratio: bool, strong: float) -> set[float]:
    """With one earlier season, the effects of the weeks either side of ``then`` (standing out the
    same way as ``strong``, its own effect, when it has one): one season measures each week of a peak
    with its own noise (and a one-off inside the peak with it), so the band allows the peak's height
    next door too. An ordinary week beside a peak keeps "no peak" among its readings."""
    found = set()
    for offset in (-1, 1):
        beside = _effect(values, then + offset, season, ratio)
        if beside and (not strong or (beside > 0) == (strong > 0)):
            found.add(beside)
    return found


def _add(effect: float, other: float, ratio: bool) -> float:
    return (1 + effect) * (1 + other) - 1 if ratio else effect + other


#: A holiday's effect (the calendar says one is there) counts when it stands out by this many robust SDs.
HOLIDAY_BAR = 1.5
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
        effect = _effect(values, held[0], season, ratio, HOLIDAY_BAR) if held else None
        if effect is None:
            break
        effects.append(effect)
    if not effects:
        return None
    # The calendar says a holiday is there: an effect standing out by HOLIDAY_BAR robust SDs counts
    # from one season on, and seasons that agree give their mean (the smaller of two would understate
    # it); one season, or seasons of which only one saw it: the band spans it and none.
    up = sum(effects) > 0
    same = [e for e in effects if e and (e > 0) == up]
    if len(effects) == 1 or len(same) == 1:
        return (same or [0.0])[0], {0.0, *same}
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
        floor=noise_floor(kept, 2 * window, predict(adjusted[:last], level_window) if ratio else None),
        proportional=ratio,
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
