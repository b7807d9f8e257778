"""How often the drivers insight ranks the segment where a change was injected first.

Each trial writes a small seeded SQLite database (customers with region, plan and channel; their orders
over the period and the one before), injects one event into one randomly chosen region in the period:

- a **churn surge**: that region's weekly churn hazard rises so that it loses K more customers,
- a **revenue drop**: that region's order amounts fall so that it loses K times less revenue,

where the size is K = 3 to 5 standard deviations of the total's own week-to-week change (computed from
the generating model: Poisson-like churn counts, a compound distribution of order counts and amounts),
so the event is one the unusual-change detector would flag, and every segment of every dimension also
drifts by a few percent while all counts stay random. Then it
runs the real path (``find_insights`` -> ``kpicore.compute`` segment aggregates in SQL -> the drivers
detector) for the period and counts a hit when the top drivers insight for the metric is ``region =
<the injected region>``. Regions differ in size and base rate, so a large region is not the answer by
construction, and plan and channel (independent of region) compete with it.

    python benchmarks/insights_drivers_eval.py --trials 200 --seed 1
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

REGIONS = ["North", "South", "East", "West", "Central"]
PLANS = ["basic", "pro", "team"]
CHANNELS = ["ads", "seo", "referral"]
#: The period judged (ISO week 2026-W47) and its start; the week before is the comparison.
PERIOD = "2026-W47"
START = datetime(2026, 11, 16)
WEEK = timedelta(days=7)


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def write_trial(
    path: Path, rng: random.Random, scenario: str, customers: int, sizes: tuple[float, float] = (3.0, 5.0)
) -> str:
    """Write one trial's database; returns the injected region."""
    regions = REGIONS[: rng.randint(3, 5)]
    region_size = {r: rng.uniform(0.5, 2.0) for r in regions}
    plan_size = {p: rng.uniform(0.5, 2.0) for p in PLANS}
    channel_size = {c: rng.uniform(0.5, 2.0) for c in CHANNELS}
    injected = rng.choice(regions)
    # Every segment's own base level and its drift from the week before to the week judged.
    base_hazard = {r: rng.uniform(0.02, 0.04) for r in regions}
    drift = {key: rng.uniform(0.95, 1.05) for key in [*regions, *PLANS, *CHANNELS]}
    size = rng.uniform(*sizes)  # the event, in standard deviations of the total's week-to-week change
    spend = {r: rng.uniform(40, 80) for r in regions}
    region_share = {r: region_size[r] / sum(region_size.values()) for r in regions}
    # churn: the total's weekly churn count is about Poisson, its change has variance 2 x mean
    mean_churned = sum(customers * region_share[r] * base_hazard[r] for r in regions)
    surge = min(0.5, size * (2 * mean_churned) ** 0.5 / (customers * region_share[injected]))
    # revenue: per customer and week N orders (mean 0.8, variance 0.56) of amount spend x LogNormal(0, 0.5)
    mean_amount = {r: spend[r] * 2.718281828**0.125 for r in regions}
    var_amount = {r: spend[r] ** 2 * (2.718281828**0.5 - 2.718281828**0.25) for r in regions}
    var_revenue = sum(
        customers * region_share[r] * (0.8 * var_amount[r] + 0.56 * mean_amount[r] ** 2) for r in regions
    )
    region_revenue = customers * region_share[injected] * 0.8 * mean_amount[injected]
    drop = min(0.9, size * (2 * var_revenue) ** 0.5 / region_revenue)

    connection = sqlite3.connect(path)
    connection.execute(
        "CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, signup_at TEXT, churned_at TEXT, "
        "region TEXT, plan TEXT, channel TEXT)"
    )
    connection.execute(
        "CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INTEGER, ordered_at TEXT, "
        "amount REAL)"
    )
    customer_rows, order_rows = [], []
    for customer_id in range(1, customers + 1):
        region, plan, channel = _pick(rng, region_size), _pick(rng, plan_size), _pick(rng, channel_size)
        signup = START - timedelta(days=rng.uniform(15, 400))
        churned = None
        for week in (0, 1):  # 0: the week before, 1: the week judged
            week_start = START - WEEK + week * WEEK
            hazard = base_hazard[region]
            if week == 1:
                hazard *= drift[region] * drift[plan] * drift[channel]
                if scenario == "churn" and region == injected:
                    hazard += surge
            if rng.random() < hazard:
                churned = week_start + timedelta(seconds=rng.uniform(0, WEEK.total_seconds() - 1))
                break
        customer_rows.append(
            (
                customer_id,
                f"{signup:%Y-%m-%d %H:%M:%S}",
                f"{churned:%Y-%m-%d %H:%M:%S}" if churned else None,
                region,
                plan,
                channel,
            )
        )
        for week in (0, 1):
            week_start = START - WEEK + week * WEEK
            if churned is not None and churned < week_start:
                break
            for _ in range(rng.choice((0, 0, 1, 1, 2))):
                amount = spend[region] * rng.lognormvariate(0, 0.5)
                if week == 1:
                    amount *= drift[region] * drift[plan] * drift[channel]
                    if scenario == "revenue" and region == injected:
                        amount *= 1 - drop
                moment = week_start + timedelta(seconds=rng.uniform(0, WEEK.total_seconds() - 1))
                order_rows.append(
                    (len(order_rows) + 1, customer_id, f"{moment:%Y-%m-%d %H:%M:%S}", round(amount, 2))
                )
    connection.executemany("INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?)", customer_rows)
    connection.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", order_rows)
    connection.commit()
    connection.close()
    return injected


def top_driver(folder: Path, database: Path, metric_name: str) -> str | None:
    """The segment (``region = South``) of the top drivers insight for the metric, through the real path."""
    from kpicore.compute import select_metrics
    from kpicore.config import load_config
    from kpicore.connectors import open_configured_source
    from kpicore.insights.run import find_insights
    from kpicore.periods import parse_period
    from kpicore.registry import get_registry

    (folder / "kpi.toml").write_text(f'[source]\nurl = "sqlite:///{database}"\n', encoding="utf-8")
    config = load_config(folder / "kpi.toml")
    registry = get_registry()
    source = open_configured_source(config, registry)
    try:
        findings = find_insights(
            select_metrics([metric_name], registry),
            parse_period(PERIOD),
            source,
            config,
            registry,
            kinds=["drivers"],
        )
    finally:
        source.close()
    drivers = [i for i in findings.insights if i.kind == "drivers" and i.numbers.get("role") == "driver"]
    return drivers[0].segment if drivers else None


def evaluate(trials: int, seed: int, customers: int = 3000, sizes: tuple[float, float] = (3.0, 5.0)) -> dict:
    """Run ``trials`` trials (alternating churn surge and revenue drop); the hit rate per scenario and overall."""
    started = time.perf_counter()
    outcome = {"churn": [0, 0], "revenue": [0, 0]}  # hits, trials
    misses = []
    with tempfile.TemporaryDirectory(prefix="kpi-drivers-eval-") as tmp:
        folder = Path(tmp)
        for trial in range(trials):
            scenario = ("churn", "revenue")[trial % 2]
            rng = random.Random(seed * 100_003 + trial)
            database = folder / f"trial{trial}.db"
            injected = write_trial(database, rng, scenario, customers, sizes)
            found = top_driver(folder, database, "churn_rate" if scenario == "churn" else "revenue")
            hit = found == f"region = {injected}"
            outcome[scenario][0] += hit
            outcome[scenario][1] += 1
            if not hit:
                misses.append({"trial": trial, "scenario": scenario, "injected": injected, "found": found})
            database.unlink()
    hits = sum(h for h, _ in outcome.values())
    return {
        "trials": trials,
        "seed": seed,
        "customers": customers,
        "sizes": list(sizes),
        "ranked_first": hits / trials if trials else None,
        "churn_surge": outcome["churn"][0] / max(1, outcome["churn"][1]),
        "revenue_drop": outcome["revenue"][0] / max(1, outcome["revenue"][1]),
        "misses": misses,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument(
        "--size",
        type=float,
        nargs=2,
        default=(3.0, 5.0),
        metavar=("MIN", "MAX"),
        help="the event's size, in standard deviations of the total's weekly change",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = evaluate(args.trials, args.seed, args.customers, tuple(args.size))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"drivers: injected region ranked first in {result['ranked_first']:.1%} of {result['trials']} trials "
            f"(churn surge {result['churn_surge']:.1%}, revenue drop {result['revenue_drop']:.1%}; "
            f"events of {result['sizes'][0]:g} to {result['sizes'][1]:g} sd; seed {result['seed']}, "
            f"{result['customers']} customers, {result['seconds']} s)"
        )
        for miss in result["misses"]:
            print(
                f"  miss: trial {miss['trial']} {miss['scenario']} in {miss['injected']}, top: {miss['found']}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
