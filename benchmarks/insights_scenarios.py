"""Scenarios of real shapes for the insights evaluation (benchmarks/insights_eval.py ``--only scenarios``).

Each scenario is a weekly business on the real ISO calendar, ending with 2026-W53 (a 53-week year):
a growth rate a year (0 to 30 %, or a decline), a December peak of a few weeks (1 to 6), optionally a
level shift in the judged year, or the moving holidays Easter, Eid al-Fitr, Diwali and Nowruz instead
of the December peak. It is run with two years of history (one earlier season before the judged year)
and with three (two earlier seasons). Four metrics of different noise: revenue (5 % multiplicative
noise), orders (Poisson counts), churn rate (binomial, of a customer base growing with the square
root of the business) and NPS (from about 120 answers a week, no season).

Planted events: two per metric-year in every year (history included, so they are in the past seasons
the band reads), each one week moved by k noise SDs, k uniform in [4, 6], up or down. The level shift
(8 to 12 SD, one per judged year) counts as found when flagged in its first four weeks; the weeks after
it, up to the band's window, are counted as neither right nor wrong.

Measured, in the judged year only: recall (events flagged / events; also of the one-week events after
a level shift alone, each more than the band's window after it), precision (flags on events / flags),
false flags per metric per year on the same series without events (the peaks and holidays are in it:
a flagged peak is a false flag), and the forecast's 80 % interval coverage (next week, every third
week of the judged year, on the series without events).
"""

from __future__ import annotations

import math
import random
import zlib
from dataclasses import dataclass
from datetime import date, timedelta

from kpicore.insights.forecast import DEFAULTS as FORECAST_DEFAULTS
from kpicore.insights.forecast import forecast
from kpicore.insights.holidays import holidays_of
from kpicore.insights.unusual import DEFAULTS, band, history_needed, year_lags

LAST_WEEK = (2026, 53)
EVENT_SIZE = (4.0, 6.0)
SHIFT_SIZE = (8.0, 12.0)
SHIFT_SPAN = 4
PEAK_SIZE = 0.4  # the December peak: +40 %

#: Holiday dates (the first day the shopping moves), by year.
HOLIDAYS = {
    "Easter": {2024: date(2024, 3, 31), 2025: date(2025, 4, 20), 2026: date(2026, 4, 5)},
    "Eid al-Fitr": {2024: date(2024, 4, 10), 2025: date(2025, 3, 30), 2026: date(2026, 3, 20)},
    "Diwali": {2024: date(2024, 11, 1), 2025: date(2025, 10, 20), 2026: date(2026, 11, 8)},
    "Nowruz": {2024: date(2024, 3, 20), 2025: date(2025, 3, 20), 2026: date(2026, 3, 21)},
}
HOLIDAY_SIZE = 0.25


@dataclass(frozen=True)
class Scenario:
    name: str
    growth: float  # a year: 0.2 for +20 %
    peak_weeks: int  # December peak length (0: none)
    shift: bool = False
    holidays: bool = False


SCENARIOS = [
    Scenario("flat, 1-week peak", 0.0, 1),
    Scenario("growing 20 %, 4-week peak", 0.20, 4),
    Scenario("growing 30 %, 6-week peak", 0.30, 6),
    Scenario("declining 15 %, 2-week peak", -0.15, 2),
    Scenario("growing 10 %, 3-week peak, level shift", 0.10, 3, shift=True),
    Scenario("growing 10 %, moving holidays", 0.10, 0, holidays=True),
]
METRICS = ("revenue", "orders", "churn_rate", "nps")


def weeks_of(years: int) -> list[date]:
    """The Mondays of the last ``years`` ISO years up to LAST_WEEK."""
    last = date.fromisocalendar(*LAST_WEEK, 1)
    first = date.fromisocalendar(LAST_WEEK[0] - years + 1, 1, 1)
    return [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)]


def shape(scenario: Scenario, mondays: list[date]) -> list[float]:
    """The multiplier of each week: growth, the December peak, the holidays."""
    factors = []
    for position, monday in enumerate(mondays):
        factor = (1 + scenario.growth) ** (position / 52)
        week = monday.isocalendar().week
        if scenario.peak_weeks and week > 52 - scenario.peak_weeks:
            factor *= 1 + PEAK_SIZE
        if scenario.holidays:
            for dates in HOLIDAYS.values():
                day = dates.get(monday.isocalendar().year)
                if day is not None and monday <= day < monday + timedelta(days=7):
                    factor *= 1 + HOLIDAY_SIZE
        factors.append(factor)
    return factors


def metric_series(metric: str, factors: list[float], rng: random.Random) -> tuple[list[float], list[float]]:
    """(values, noise SD of each week) of one metric on the business's shape."""
    values, noise = [], []
    for factor in factors:
        if metric == "revenue":
            level = 40_000 * factor
            values.append(level * math.exp(rng.gauss(0, 0.05)))
            noise.append(level * 0.05)
        elif metric == "orders":
            mean = 300 * factor
            values.append(float(max(0, round(rng.gauss(mean, math.sqrt(mean))))))
            noise.append(math.sqrt(mean))
        elif metric == "churn_rate":
            active, p = round(3000 * math.sqrt(factor)), 0.01
            sd = math.sqrt(active * p * (1 - p))
            values.append(100 * max(0, round(rng.gauss(active * p, sd))) / active)
            noise.append(100 * sd / active)
        else:  # NPS from about 120 answers: promoters 45 %, detractors 25 %
            n = max(20, round(rng.gauss(120, 11)))
            promoters = sum(rng.random() < 0.45 for _ in range(n))
            detractors = sum(rng.random() < 0.25 / 0.55 for _ in range(n - promoters))
            values.append(100 * (promoters - detractors) / n)
            noise.append(100 * math.sqrt((0.45 + 0.25 - 0.2**2) / 120))
    return values, noise


def plant(
    values: list[float],
    noise: list[float],
    judged: range,
    rng: random.Random,
    shift: bool,
    negative: bool = False,
) -> tuple[list[float], list[tuple[int, int]]]:
    """Two one-week events per year (every year), a level shift in the judged year: (values, spans)."""
    planted = list(values)
    spans = []
    years = [judged]
    while years[0].start > 0:
        years.insert(0, range(max(0, years[0].start - 52), years[0].start))
    for year in years:
        weeks = rng.sample(range(year.start + 2, year.stop), 2)
        for week in weeks:
            size = rng.uniform(*EVENT_SIZE) * rng.choice((-1, 1)) * noise[week]
            if planted[week] + size > 0 or negative:
                planted[week] += size
                if week in judged:
                    spans.append((week, week + 1))
    if shift:
        at = rng.randrange(judged.start + 4, judged.stop - 20)
        step = rng.uniform(*SHIFT_SIZE) * rng.choice((-1, 1)) * noise[at]
        for later in range(at, len(values)):
            planted[later] = planted[later] + step if negative else max(0.0, planted[later] + step)
        spans = [s for s in spans if not at <= s[0] < at + DEFAULTS["window"]]
        # a shift down to nothing (a churn rate of 0 %) leaves nothing of an event after it
        spans = [s for s in spans if s[0] < at or planted[s[0]] > 0 or negative]
        spans.append((at, at + SHIFT_SPAN))
    return planted, spans


#: Settings of the unusual-change band (its defaults; a run may try others).
SETTINGS: dict = dict(DEFAULTS)


def flags(values: list[float], lags: list, judged: range, holidays: list = ()) -> list[int]:
    """The weeks of ``judged`` the unusual-change band flags, each from the history kpicore would read
    (``holidays``: per week, the moving holidays it holds, as kpicore reads them from the labels)."""
    reach = history_needed("week", SETTINGS)
    found = []
    for week in judged:
        start = max(0, week - reach + 1)
        seen = band(
            values[start : week + 1],
            "week",
            lags=_relative(lags, start, week),
            holidays=holidays[start : week + 1],
            **SETTINGS,
        )
        if seen is not None and seen.outside(values[week]):
            found.append(week)
    return found


def _relative(lags: list, start: int, week: int) -> list:
    """The lags of ``values[start : week + 1]``: None where the year before lies before ``start``."""
    return [
        lag if lag is not None and i - lag >= start else None
        for i, lag in enumerate(lags[start : week + 1], start)
    ]


def coverage(values: list[float], judged: range, every: int = 3) -> tuple[int, int]:
    inside = total = 0
    history = FORECAST_DEFAULTS["history"]
    for week in range(judged.start, judged.stop - 1, every):
        found = forecast(values[week - history + 1 : week + 1], 0.8)
        if found is not None:
            total += 1
            inside += found[1] <= values[week + 1] <= found[2]
    return inside, total


def run_scenario(scenario: Scenario, years: int, seeds: list[int], forecasts: int = 3) -> dict:
    """Recall, precision, false flags and forecast coverage of one scenario with ``years`` of history."""
    mondays = weeks_of(years)
    labels = [f"{m.isocalendar().year}-W{m.isocalendar().week:02d}" for m in mondays]
    lags = year_lags(labels)
    holidays = holidays_of(labels)
    judged = range(len(mondays) - 53, len(mondays))  # the last ISO year: 2026, 53 weeks
    factors = shape(scenario, mondays)
    tally = {"events": 0, "hits": 0, "flags": 0, "right": 0, "clean_flags": 0, "inside": 0, "forecasts": 0}
    after_shift = [0, 0]  # [hits, events] of the one-week events after a level shift
    metric_years = 0
    for seed in seeds:
        for metric in METRICS:
            rng = random.Random(zlib.crc32(f"{seed} {metric} {scenario.name} {years}".encode()))
            clean, noise = metric_series(metric, factors, rng)
            planted, spans = plant(clean, noise, judged, rng, scenario.shift, negative=metric == "nps")
            ignored = set()
            for start, end in spans:
                if end - start > 1:
                    ignored.update(range(end, start + DEFAULTS["window"]))
            found = [w for w in flags(planted, lags, judged, holidays) if w not in ignored]
            tally["events"] += len(spans)
            tally["hits"] += sum(any(start <= w < end for w in found) for start, end in spans)
            shifts = [start for start, end in spans if end - start > 1]
            for start, end in spans:
                if end - start == 1 and shifts and start > shifts[0]:
                    after_shift[0] += start in found
                    after_shift[1] += 1
            tally["flags"] += len(found)
            tally["right"] += sum(any(start <= w < end for start, end in spans) for w in found)
            tally["clean_flags"] += len(flags(clean, lags, judged, holidays))
            metric_years += 1
            if forecasts:
                inside, total = coverage(clean, judged, forecasts)
                tally["inside"] += inside
                tally["forecasts"] += total
    return {
        "scenario": scenario.name,
        "years": years,
        "seasons_before": years - 1,
        "recall": tally["hits"] / tally["events"] if tally["events"] else None,
        "precision": tally["right"] / tally["flags"] if tally["flags"] else None,
        "events": tally["events"],
        "false_flags_per_metric_year": tally["clean_flags"] / metric_years * 52 / 53,
        "coverage_80": tally["inside"] / tally["forecasts"] if tally["forecasts"] else None,
        "forecasts": tally["forecasts"],
        "after_shift": {
            "events": after_shift[1],
            "recall": after_shift[0] / after_shift[1] if after_shift[1] else None,
        },
    }


#: Forecasts are judged every this many weeks of the judged year (0: none, a faster run).
FORECAST_EVERY = [3]


def evaluate_scenarios(seeds: list[int], weeks: int | None = None) -> dict:
    """Every scenario with two and three years of history (``weeks`` is not used: each fixes its own)."""
    rows = [run_scenario(s, years, seeds, FORECAST_EVERY[0]) for s in SCENARIOS for years in (2, 3)]
    inside = sum(round((r["coverage_80"] or 0) * r["forecasts"]) for r in rows)
    total = sum(r["forecasts"] for r in rows)
    return {"rows": rows, "coverage_80": inside / total if total else None, "forecasts": total}
