"""How well the insight detectors find what they should, and only that: measured on synthetic weekly data.

Run: ``python benchmarks/insights_eval.py [--seeds 20] [--first-seed 1] [--years 4] [--json]`` from the
repository root (``--first-seed 21 --seeds 20``: seeds 21 to 40, a second set to check figures on).

The data is demo-like (``kpicore/demo_data.py``): a growing business with a yearly rhythm and a sharp
seasonal peak (Black Friday week, +35 % revenue every year, which is NOT an anomaly), revenue with 5 %
multiplicative noise, new customers as Poisson counts, NPS from about 50 responses a week, and churn as
binomial counts of the active customers of four regions. It is generated as the weekly *aggregates*
kpicore's SQL returns for each metric (sums, counts, rates with their denominators, per region for churn),
so thousands of detector runs take seconds; the SQL path itself is tested on the demo database.

Injected, with fixed seeds, on top of that:

- *spikes*: one week moved by k robust standard deviations (k uniform in [3, 8], up or down), every 20
  to 30 weeks;
- *level shifts*: from one week in the last third on, the level moves by k robust SD and stays;
- a *churn surge in one region*: South's weekly churn probability raised for one week so that its rate
  jumps by k robust SD of South's own series (k in [3, 8]);
- *ramps* (for the trend detector): eight weeks rising or falling steadily by k noise SDs in all.

"Robust SD" is the series' robust standard deviation at that week as the band measures it on the clean
series: 1.4826 x the median absolute deviation of its one-week-ahead misses over the last half year
(``robust_sd``). It is about 1.1 to 1.3 times the generator's noise SD, because it also holds what the
expected-value line cannot follow (a curving season, growth).

What is measured, per detector:

- unusual: a flag in an event's span (the spike's week; a shift's first four weeks; the surge's week, on
  the region's own series) is a hit; recall = events hit / events; precision = flags in spans / flags, the
  weeks of adaptation after a shift (up to the band's window) counted as neither. False flags per metric
  per year on the same series without events; and separately on the seasonal peak's weeks, with the
  seasonal band (two years of history and more) and with the plain band (less).
- trend: the same, for ramps (a hit: a trend flag in its direction in the ramp's last three weeks or the
  three after, while the window still holds the rise; a flag is right within a window's length of one);
  false trend flags per metric per year on clean data.
- forecast: the share of next weeks inside the 80 % interval (its coverage; 0.8 is right).
- concentration: share of the top segment crossing the threshold in noisy segment data: precision, recall.

Targets (docs/insights.md): precision >= 0.8 and recall >= 0.8 for unusual changes larger than 3 robust SD,
at most 1 false flag per metric per year on clean weekly data.

Further detectors add their evaluation to ``EVALUATIONS`` (see the section at the end).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from insights_scenarios import FORECAST_EVERY, SCENARIOS, evaluate_scenarios

from kpicore.insights.concentration import concentrated
from kpicore.insights.trend import DEFAULTS as TREND_DEFAULTS
from kpicore.insights.trend import direction
from kpicore.insights.unusual import DEFAULTS as UNUSUAL_DEFAULTS
from kpicore.insights.unusual import band, history_needed

WEEKS_PER_YEAR = 52
REGIONS = {"North": 560, "South": 500, "East": 350, "West": 430}
#: The seasonal peak: this week of each year (0-based), revenue x 1.35, new customers x 1.3.
PEAK_WEEK = 46
FIRST_EVALUATED = 12  # weeks of history before the first week judged (the band needs min_history)
SHIFT_SPAN = 4  # a level shift counts as found when flagged within its first weeks


# -- the data -----------------------------------------------------------------------------------
@dataclass
class Series:
    """One metric's weekly values (oldest first), the noise SD of each week, and injected events."""

    metric: str
    values: list[float]
    noise: list[float]
    events: list[tuple[str, int, float]] = field(default_factory=list)  # (kind, week, size in SD)
    peaks: list[int] = field(default_factory=list)


def _season(week: int) -> float:
    """The business's yearly rhythm (a winter high), as in the demo data."""
    return 1 + 0.15 * math.cos(2 * math.pi * ((week % WEEKS_PER_YEAR) - 50) / WEEKS_PER_YEAR)


def _growth(week: int, weeks: int) -> float:
    return 2.5 ** (week / max(1, weeks - 1) * (weeks / 104))  # x2.5 every two years


def _poisson(rng: random.Random, mean: float) -> int:
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def _binomial(rng: random.Random, n: int, p: float) -> int:
    mean, sd = n * p, math.sqrt(n * p * (1 - p))
    if mean > 30:
        return max(0, round(rng.gauss(mean, sd)))
    return _poisson(rng, mean)  # rare events: Poisson is the binomial's limit


def revenue(rng: random.Random, weeks: int) -> Series:
    values, noise, peaks = [], [], []
    for week in range(weeks):
        level = 30_000 * _growth(week, weeks) * _season(week)
        if week % WEEKS_PER_YEAR == PEAK_WEEK:
            level *= 1.35
            peaks.append(week)
        values.append(level * math.exp(rng.gauss(0, 0.05)))
        noise.append(level * 0.05)
    return Series("revenue", values, noise, peaks=peaks)


def new_customers(rng: random.Random, weeks: int) -> Series:
    values, noise, peaks = [], [], []
    for week in range(weeks):
        mean = 30 * _growth(week, weeks) * _season(week)
        if week % WEEKS_PER_YEAR == PEAK_WEEK:
            mean *= 1.3
            peaks.append(week)
        values.append(float(_poisson(rng, mean)))
        noise.append(math.sqrt(mean))
    return Series("new_customers", values, noise, peaks=peaks)


def nps(rng: random.Random, weeks: int) -> Series:
    shares = (0.45, 0.30, 0.25)  # promoters, passives, detractors: NPS +20
    values, noise = [], []
    for _ in range(weeks):
        n = _poisson(rng, 50)
        promoters = detractors = 0
        for _ in range(n):
            draw = rng.random()
            promoters += draw < shares[0]
            detractors += draw >= shares[0] + shares[1]
        values.append(100 * (promoters - detractors) / max(1, n))
        p, d = shares[0], shares[2]
        noise.append(100 * math.sqrt((p + d - (p - d) ** 2) / 50))
    return Series("nps", values, noise)


def churn(rng: random.Random, weeks: int, surge: tuple[int, float] | None = None):
    """Weekly churn rates (%): (total Series, {region: Series}); ``surge`` (week, rate points) adds that
    many points to South's churn probability that week."""
    p = 0.006
    by_region = {name: Series(f"churn_rate[{name}]", [], []) for name in REGIONS}
    total = Series("churn_rate", [], [])
    for week in range(weeks):
        churned_all = active_all = 0
        for name, size in REGIONS.items():
            active = round(size * _growth(week, weeks) ** 0.5)
            chance = p
            if surge is not None and name == "South" and week == surge[0]:
                chance = p + surge[1] / 100
            churned = _binomial(rng, active, chance)
            by_region[name].values.append(100 * churned / active)
            by_region[name].noise.append(100 * math.sqrt(p * (1 - p) / active))
            churned_all += churned
            active_all += active
        total.values.append(100 * churned_all / active_all)
        total.noise.append(100 * math.sqrt(p * (1 - p) / active_all))
    return total, by_region


GENERATORS: dict[str, Callable[[random.Random, int], Series]] = {
    "revenue": revenue,
    "new_customers": new_customers,
    "nps": nps,
    "churn_rate": lambda rng, weeks: churn(rng, weeks)[0],
}


def robust_sd(values: list[float], week: int) -> float | None:
    """The robust SD of the series at ``week`` as the unusual-change band measures it on clean data
    (its ``scale``: the robust SD of its own one-week-ahead misses), the unit events are sized in."""
    reach = history_needed("week", UNUSUAL_DEFAULTS)
    found = band(values[max(0, week - reach + 1) : week + 1], "week")
    return None if found is None else found.scale


def inject(series: Series, rng: random.Random, *, shifts: bool = True) -> Series:
    """Spikes every 20 to 30 weeks, and a level shift in the last third, each k robust SD (k in [3, 8])."""
    clean = list(series.values)
    weeks = len(series.values)
    week = FIRST_EVALUATED + rng.randrange(10, 20)
    shift_at = weeks - weeks // 3 + rng.randrange(0, 10) if shifts else None
    while week < weeks:
        if shift_at is not None and abs(week - shift_at) < UNUSUAL_DEFAULTS["window"]:
            week += UNUSUAL_DEFAULTS["window"]
            continue
        unit = robust_sd(clean, week)
        if week not in series.peaks and unit:
            size = rng.uniform(3, 8) * rng.choice((-1, 1))
            if series.values[week] + size * unit > 0:
                series.values[week] += size * unit
                series.events.append(("spike", week, abs(size)))
        week += rng.randrange(20, 30)
    unit = robust_sd(clean, shift_at) if shift_at is not None and shift_at < weeks else None
    if unit:
        size = rng.uniform(3, 8) * rng.choice((-1, 1))
        step = size * unit
        if all(value + step > 0 for value in series.values[shift_at:]):
            for later in range(shift_at, weeks):
                series.values[later] += step
            series.events.append(("shift", shift_at, abs(size)))
    series.events.sort(key=lambda event: event[1])
    return series


# -- the detectors as kpicore runs them ---------------------------------------------------------------
def unusual_flags(values: list[float]) -> dict[int, object]:
    """Week -> the band, for every week the unusual-change detector flags (history as kpicore gives it)."""
    reach = history_needed("week", UNUSUAL_DEFAULTS)
    flags = {}
    for week in range(FIRST_EVALUATED, len(values)):
        found = band(values[max(0, week - reach + 1) : week + 1], "week")
        if found is not None and found.outside(values[week]):
            flags[week] = found
    return flags


def seasonal_available(values: list[float], week: int) -> bool:
    reach = history_needed("week", UNUSUAL_DEFAULTS)
    found = band(values[max(0, week - reach + 1) : week + 1], "week")
    return found is not None and found.method == "seasonal"


@dataclass
class Tally:
    events: int = 0
    hits: int = 0
    flags: int = 0
    flags_in_spans: int = 0
    by_size: dict[str, list[int]] = field(default_factory=dict)  # "3-4" -> [hits, events]

    def add_event(self, size: float, hit: bool) -> None:
        self.events += 1
        self.hits += hit
        bucket = "3-4" if size < 4 else "4-6" if size < 6 else "6-8"
        counts = self.by_size.setdefault(bucket, [0, 0])
        counts[0] += hit
        counts[1] += 1

    @property
    def recall(self) -> float | None:
        return self.hits / self.events if self.events else None

    @property
    def precision(self) -> float | None:
        return self.flags_in_spans / self.flags if self.flags else None


def score_unusual(series: Series, tally: Tally, plain_peaks: list[int] | None = None) -> None:
    """Hits and flags of one series; flags on ``plain_peaks`` (seasonal peaks judged by the plain band)
    are left out when given."""
    flags = unusual_flags(series.values)
    for week in plain_peaks or ():
        flags.pop(week, None)
    spans, ignored = [], set()
    for kind, week, size in series.events:
        span = range(week, week + (SHIFT_SPAN if kind == "shift" else 1))
        spans.append(span)
        tally.add_event(size, any(w in flags for w in span))
        if kind == "shift":
            ignored.update(range(week + SHIFT_SPAN, week + UNUSUAL_DEFAULTS["window"]))
    for week in flags:
        if week in ignored:
            continue
        tally.flags += 1
        tally.flags_in_spans += any(week in span for span in spans)


def evaluate_unusual(seeds: list[int], weeks: int) -> dict:
    """Recall and precision on injected events, false flags per metric per year on clean data, and
    the seasonal peak with the seasonal band and the plain one."""
    overall = Tally()
    per_metric: dict[str, dict] = {}
    clean_flags: dict[str, int] = {name: 0 for name in GENERATORS}
    clean_weeks = 0
    peaks = {"seasonal": [0, 0], "plain": [0, 0]}  # [flagged, peak weeks]
    surge = Tally()
    in_total = 0  # surges also flagged on the total churn rate
    outside = Tally()  # the same, leaving out seasonal peaks the plain band judged
    clean_outside: dict[str, int] = {name: 0 for name in GENERATORS}
    for seed in seeds:
        for name, generate in GENERATORS.items():
            tally = Tally()
            injected = inject(generate(random.Random(seed), weeks), random.Random(seed + 1000))
            score_unusual(injected, tally)
            plain_peaks = [w for w in injected.peaks if not seasonal_available(injected.values, w)]
            score_unusual(injected, outside, plain_peaks)
            for key in ("events", "hits", "flags", "flags_in_spans"):
                setattr(overall, key, getattr(overall, key) + getattr(tally, key))
            for bucket, (hits, events) in tally.by_size.items():
                counts = overall.by_size.setdefault(bucket, [0, 0])
                counts[0] += hits
                counts[1] += events
            metric = per_metric.setdefault(name, {"events": 0, "hits": 0, "flags": 0, "flags_in_spans": 0})
            for key in metric:
                metric[key] += getattr(tally, key)
            clean = generate(random.Random(seed), weeks)
            flags = unusual_flags(clean.values)
            clean_flags[name] += len(flags)
            clean_outside[name] += len(flags)
            for week in clean.peaks:
                if week < FIRST_EVALUATED:
                    continue
                kind = "seasonal" if seasonal_available(clean.values, week) else "plain"
                peaks[kind][0] += week in flags
                peaks[kind][1] += 1
                clean_outside[name] -= kind == "plain" and week in flags
        clean_weeks += weeks - FIRST_EVALUATED
        # The churn surge in South, one week in the last year, judged on South's own series (the
        # `churn_rate is unusual` alert with by = "region") and on the total.
        rng = random.Random(seed + 2000)
        week, size = weeks - rng.randrange(5, 40), rng.uniform(3, 8)
        unit = robust_sd(churn(random.Random(seed), weeks)[1]["South"].values, week)
        total, regions = churn(random.Random(seed), weeks, surge=(week, size * unit))
        south = unusual_flags(regions["South"].values)
        surge.add_event(size, week in south)
        in_total += week in unusual_flags(total.values)
        surge.flags += sum(1 for w in south if w >= weeks - 52)
        surge.flags_in_spans += week in south
    years = clean_weeks / WEEKS_PER_YEAR
    return {
        "precision": overall.precision,
        "recall": overall.recall,
        "events": overall.events,
        "recall_by_size": {
            bucket: hits / events for bucket, (hits, events) in sorted(overall.by_size.items())
        },
        "per_metric": {
            name: {
                **counts,
                "recall": counts["hits"] / counts["events"] if counts["events"] else None,
                "precision": counts["flags_in_spans"] / counts["flags"] if counts["flags"] else None,
            }
            for name, counts in per_metric.items()
        },
        "false_flags_per_metric_year": {name: flags / years for name, flags in clean_flags.items()},
        "without_plain_band_seasonal_peaks": {
            "precision": outside.precision,
            "false_flags_per_metric_year": {name: flags / years for name, flags in clean_outside.items()},
        },
        "clean_years_per_metric": years,
        "seasonal_peak_flagged": {
            kind: {"flagged": f, "peaks": n, "share": f / n if n else None} for kind, (f, n) in peaks.items()
        },
        "churn_surge_south": {
            "recall": surge.recall,
            "events": surge.events,
            "flags_in_its_last_year": surge.flags,
            "recall_on_the_total": in_total / surge.events if surge.events else None,
        },
    }


def evaluate_trend(seeds: list[int], weeks: int) -> dict:
    """Ramps of eight weeks on flat noisy series (NPS-like and revenue-like): recall, precision; false
    trend flags per metric per year on clean data."""
    periods = TREND_DEFAULTS["periods"]
    hits = events = flags = in_spans = clean = 0
    clean_weeks = 0

    def flagged(values, week):
        window = values[week - periods + 1 : week + 1]
        found = direction(
            window, confidence=TREND_DEFAULTS["confidence"], min_change=TREND_DEFAULTS["min_change"]
        )
        return found[0] if found else 0

    for seed in seeds:
        for name in ("nps", "revenue"):
            rng = random.Random(seed + 3000)
            base = (
                [100.0 + rng.gauss(0, 5) for _ in range(weeks)]
                if name == "revenue"
                else nps(rng, weeks).values
            )
            sd = 5.0 if name == "revenue" else 13.0
            series = list(base)
            ramps = []
            week = periods + 10
            while week + periods < weeks:
                size, sign = rng.uniform(3, 8), rng.choice((-1, 1))
                for i in range(periods):
                    series[week + i] += sign * size * sd * (i + 1) / periods
                for later in range(week + periods, weeks):
                    series[later] += sign * size * sd  # the new level stays
                ramps.append((week + periods - 1, sign))
                week += periods * 5
            judged = set()
            for end, sign in ramps:
                events += 1
                span = range(end - 2, end + 4)  # the last weeks of the ramp, or the window just after
                hits += any(flagged(series, w) == sign for w in span)
            for w in range(periods, weeks):
                sign = flagged(series, w)
                if sign:
                    flags += 1
                    in_spans += any(end - periods < w < end + periods for end, _ in ramps)
                    judged.add(w)
            clean += sum(1 for w in range(periods, weeks) if flagged(base, w))
            clean_weeks += weeks - periods
    return {
        "recall": hits / events if events else None,
        "precision": in_spans / flags if flags else None,
        "events": events,
        "false_flags_per_metric_year": clean / (clean_weeks / WEEKS_PER_YEAR),
    }


def evaluate_forecast(seeds: list[int], weeks: int, *, every: int = 13) -> dict:
    """Coverage of the 80 % interval for next week, every ``every`` weeks, on clean demo-like series."""
    from kpicore.insights.forecast import DEFAULTS, forecast

    inside = total = 0
    for seed in seeds:
        for name in ("revenue", "new_customers", "nps"):
            series = GENERATORS[name](random.Random(seed + 4000), weeks)
            for week in range(30, weeks - 1, every):
                found = forecast(series.values[week - DEFAULTS["history"] + 1 : week + 1], 0.8)
                if found is None:
                    continue
                total += 1
                inside += found[1] <= series.values[week + 1] <= found[2]
    return {"coverage_80": inside / total if total else None, "forecasts": total}


def evaluate_concentration(seeds: list[int], weeks: int) -> dict:
    """Noisy channel revenues; in some weeks one channel's share is pushed over 50 %."""
    hits = events = flags = right = 0
    for seed in seeds:
        rng = random.Random(seed + 5000)
        for _ in range(weeks):
            shares = [0.35, 0.25, 0.2, 0.2]
            pushed = rng.random() < 0.1
            if pushed:
                shares = [0.62, 0.14, 0.12, 0.12]
            values = [max(0.0, s * 10_000 * math.exp(rng.gauss(0, 0.05))) for s in shares]
            found = concentrated(list(zip("abcd", values, strict=True)), sum(values), 0.5)
            events += pushed
            hits += pushed and found is not None
            flags += found is not None
            right += found is not None and pushed
    return {
        "recall": hits / events if events else None,
        "precision": right / flags if flags else None,
        "events": events,
    }


#: Every evaluation: name -> function(seeds, weeks) -> figures. A detector added later (drivers and
#: detractors) adds its own here, e.g. EVALUATIONS["drivers"] = evaluate_drivers, reporting
#: how often the injected segment is ranked first.
EVALUATIONS: dict[str, Callable[[list[int], int], dict]] = {
    "scenarios": evaluate_scenarios,
    "unusual": evaluate_unusual,
    "trend": evaluate_trend,
    "forecast": evaluate_forecast,
    "concentration": evaluate_concentration,
}

# -- drivers and detractors: its evaluation goes here ------------------------------------------------


def run(seeds: int = 20, years: int = 4, only: list[str] | None = None, first: int = 1) -> dict:
    """Every evaluation (or ``only`` those), on ``seeds`` seeds from ``first`` on, of ``years`` years of
    weekly data."""
    chosen = list(range(first, first + seeds))
    weeks = years * WEEKS_PER_YEAR
    report = {"seeds": seeds, "first_seed": first, "years": years}
    for name, evaluate in EVALUATIONS.items():
        if only and name not in only:
            continue
        started = time.monotonic()
        report[name] = evaluate(chosen, weeks)
        report[name]["seconds"] = round(time.monotonic() - started, 2)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1, help="the first seed (default 1)")
    parser.add_argument("--years", type=int, default=4)
    parser.add_argument("--only", nargs="*", help="evaluations to run (default: all)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--scenario", action="append", help="scenarios to run (a part of the name; default: all)"
    )
    parser.add_argument(
        "--forecast-every", type=int, default=3, help="scenarios: forecast every N weeks (0: none)"
    )
    options = parser.parse_args(argv)
    FORECAST_EVERY[0] = options.forecast_every
    if options.scenario:
        SCENARIOS[:] = [s for s in SCENARIOS if any(part in s.name for part in options.scenario)]
    report = run(options.seeds, options.years, options.only, options.first_seed)
    if options.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{options.seeds} seeds x {options.years} years of weekly data")
    for name in EVALUATIONS:
        if name in report:
            print(f"{name}: {json.dumps(report[name])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
