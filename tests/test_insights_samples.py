"""Small samples: no insight names a segment below ``min_sample`` records, and a segment's change is named
only when it stands out from noise (two-sided 95 %). Hand-computed cases for each test (rates, counts, NPS's
multinomial variance, sums and means from sums of squares), the sums of squares computed in SQL against a
plain-Python computation on every backend, "too few responses to tell", and a share over 100 %."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import random
from pathlib import Path

import pytest

from kpicore.config import parse_config
from kpicore.digest.config import digest_spec
from kpicore.insights.drivers import SURE, Drivers, SegmentAggregate, distinguishable, speaks
from kpicore.metric import Values
from kpicore.metrics.orders import AverageOrderValue, Revenue
from kpicore.metrics.surveys import CSAT, NPS
from kpicore.registry import get_registry
from tests.test_insights_drivers import _as_segments, _evidence, _result


def csat_by_region(rows):
    """Evidence of CSAT by region from (segment, value now, n now, value before, n before) rows, the totals
    the n-weighted means of the segments."""
    aggregates = [SegmentAggregate(*row) for row in rows]
    total = sum(a.value * a.n for a in aggregates) / sum(a.n for a in aggregates)
    previous = sum(a.previous * a.previous_n for a in aggregates) / sum(a.previous_n for a in aggregates)
    csat = CSAT()
    return _evidence(
        csat,
        _result(csat, total, previous),
        {"region": _result(csat, total, previous, _as_segments(aggregates), "region")},
    )


# -- rates: the two-proportion test ------------------------------------------------------------------------


def test_a_rate_is_named_past_1_96_standard_errors_of_the_pooled_two_proportion_test():
    # 100 responses each: 50 % -> 36 %: pooled 43 %, se = sqrt(0.43 x 0.57 x (1/100 + 1/100)) = 0.0700,
    # z = 0.14 / 0.0700 = 2.00; 50 % -> 37 %: z = 0.13 / 0.0702 = 1.85.
    assert distinguishable("percent", SegmentAggregate("West", 36.0, 100, 50.0, 100))
    assert not distinguishable("percent", SegmentAggregate("West", 37.0, 100, 50.0, 100))


def test_a_segment_of_8_responses_after_9_is_never_named_and_the_insight_says_too_few_to_tell():
    # The defect: "CSAT moved -2.0 pts; 162% of that came from region West", West 8 responses, then 9.
    rows = [("West", 87.5, 8, 100.0, 9), ("North", 79.5, 40, 80.0, 40), ("East", 70.5, 40, 70.0, 40)]
    evidence = csat_by_region(rows)
    for minimum in (30, 0):  # even allowed by min_sample, 1 answer in 8 is noise: z = 1.4
        evidence.options["min_sample"] = minimum
        (insight,) = Drivers().detect(evidence)
        assert insight.segment is None and "West" not in insight.text
        # (87.5 x 8 + 79.5 x 40 + 70.5 x 40) / 88 = 76.14 after (100 x 9 + 80 x 40 + 70 x 40) / 89 = 77.53
        assert insight.text == (
            "Customer satisfaction (CSAT) fell 1.4 pts; too few responses to tell which region drove it."
        )
        assert insight.numbers["role"] == "unclear" and insight.numbers["min_sample"] == minimum
        assert [u["segment"] for u in insight.numbers["unnamed"]] == ["West"]
        assert insight.needs_attention  # CSAT fell
    for locale in ("ml", "bn", "fa", "ig"):
        sentence = insight.sentence(locale)
        assert "too few" not in sentence and sentence != insight.text


def test_a_big_segment_with_a_real_shift_is_named():
    # West 80 % -> 50 % of 300 responses: pooled 65 %, se = sqrt(0.65 x 0.35 x 2 / 300) = 0.039, z = 7.7.
    evidence = csat_by_region([("West", 50.0, 300, 80.0, 300), ("North", 80.0, 200, 79.0, 200)])
    evidence.options["min_sample"] = 30
    (driver,) = Drivers().detect(evidence)
    assert driver.segment == "region = West" and driver.numbers["role"] == "driver"
    evidence.options["min_sample"] = 301  # the same shift below min_sample: not named, said so
    (unclear,) = Drivers().detect(evidence)
    assert unclear.segment is None and unclear.numbers["role"] == "unclear"


# -- NPS: the multinomial variance -------------------------------------------------------------------------


def nps_segment(name, now, before):
    """A segment of NPS from (promoters, passives, detractors) now and before, its variance from NPS."""
    metric = NPS()

    def values(counts):
        promoters, _passives, detractors = counts
        return Values({"promoters": promoters, "detractors": detractors, "responses": sum(counts)})

    return SegmentAggregate(
        name,
        metric.value(values(now)),
        sum(now),
        metric.value(values(before)),
        sum(before),
        metric.variance(values(now)),
        metric.variance(values(before)),
    )


def test_nps_uses_the_multinomial_variance_of_promoters_passives_and_detractors():
    # 55 promoters, 25 passives, 20 detractors of 100: NPS 35, variance 100^2 (0.55 + 0.20 - 0.35^2) / 100
    # = 62.75; before 40 / 30 / 30: NPS 10, variance 100^2 (0.40 + 0.30 - 0.10^2) / 100 = 69.
    west = nps_segment("West", (55, 25, 20), (40, 30, 30))
    assert west.value == pytest.approx(35.0) and west.previous == pytest.approx(10.0)
    assert west.variance == pytest.approx(62.75) and west.previous_variance == pytest.approx(69.0)
    # 25 points > 1.96 x sqrt(62.75 + 69) = 22.50: named; the widest a score can have per response
    # (1.96 x 100 x sqrt(2 / 100) = 27.7 points) would not have told it.
    assert distinguishable("points", west)
    assert not distinguishable("points", SegmentAggregate("West", 35.0, 100, 10.0, 100))
    # 50 / 30 / 20 (NPS 30, variance 61) against the same: 20 < 1.96 x sqrt(130) = 22.35: noise.
    assert not distinguishable("points", nps_segment("West", (50, 30, 20), (40, 30, 30)))
    # All passives both times, then one promoter more in 100: variance 0 before, 0.99 after: z = 1.005.
    assert not distinguishable("points", nps_segment("West", (1, 99, 0), (0, 100, 0)))


# -- sums and means: variances from the segment's sums of squares -----------------------------------------


def revenue_segment(name, now, before):
    """A revenue segment from its order amounts now and before: the value a sum, its variance the sum of
    squares (the number of orders is itself random: a compound Poisson sum)."""
    metric = Revenue()

    def values(amounts):
        return Values(
            {"revenue": sum(amounts), "orders": len(amounts), "invalid": 0, "no_time": 0},
            squares={"revenue": sum(x * x for x in amounts)},
        )

    return SegmentAggregate(
        name,
        sum(now),
        len(now),
        sum(before),
        len(before),
        metric.variance(values(now)),
        metric.variance(values(before)),
    )


def test_a_revenue_segment_of_high_variance_orders_is_not_named_while_a_consistent_one_is():
    # Both: $16,000 from 400 orders, then $20,000 from 400. Consistent: every order $40, then $50:
    # variance 400 x 40^2 = 640,000 and 400 x 50^2 = 1,000,000, se $1,281, z = 4,000 / 1,281 = 3.1.
    consistent = revenue_segment("North", [50.0] * 400, [40.0] * 400)
    assert consistent.variance == pytest.approx(1_000_000) and consistent.previous_variance == 640_000
    assert distinguishable("currency", consistent)
    # High variance: 4 orders of $4,000 and 396 of $10.10 (then 4 of $3,200 and 396 of $8.08): the sums of
    # squares are 64.04 M and 40.99 M, se $10,248: z = 0.39.
    lumpy = revenue_segment("South", [4000.0] * 4 + [4000 / 396] * 396, [3200.0] * 4 + [3200 / 396] * 396)
    assert lumpy.value == pytest.approx(20_000) and lumpy.previous == pytest.approx(16_000)
    assert math.sqrt(lumpy.variance + lumpy.previous_variance) == pytest.approx(10_248, rel=1e-3)
    assert not distinguishable("currency", lumpy)
    # Through the detector: revenue +$8,000, half from each; only North is named.
    revenue = Revenue()
    segments = _as_segments([consistent, lumpy])
    evidence = _evidence(
        revenue,
        _result(revenue, 40_000.0, 32_000.0),
        {"region": _result(revenue, 40_000.0, 32_000.0, segments, "region")},
    )
    evidence.settings["min_excess"] = -0.01  # each holds half the rise, its share of the base
    assert [i.segment for i in Drivers().detect(evidence)] == ["region = North"]


def test_a_sum_whose_change_is_within_its_own_noise_is_not_said_to_need_a_driver():
    # The Igbo demo's revenue: -1.8 %, and no plan could be told from noise, so it said "too few orders to
    # tell which plan drove it" of a change that is noise itself. Here two regions of 200 orders of $50 and
    # $150 (sums of squares 2.5 M a week each): North's fall $3.50 an order, revenue $40,000 -> $39,300.
    # The total's own noise is sqrt(3 x 2.5 M + 2.36 M) = $3,140: -$700 is nothing to explain.
    steady = [50.0, 150.0] * 100
    segments = [
        revenue_segment("North", [x - 3.5 for x in steady], steady),
        revenue_segment("South", steady, steady),
    ]
    assert sum(s.value for s in segments) == pytest.approx(39_300)
    assert math.sqrt(sum(s.variance + s.previous_variance for s in segments)) == pytest.approx(3_140, abs=1)
    revenue = Revenue()

    def found(segments, min_sample=0):
        now, before = sum(s.value for s in segments), sum(s.previous for s in segments)
        evidence = _evidence(
            revenue,
            _result(revenue, now, before),
            {"region": _result(revenue, now, before, _as_segments(segments), "region")},
        )
        evidence.options["min_sample"] = min_sample
        return Drivers().detect(evidence)

    assert found(segments) == []
    # With a hundredth of the variance (noise $314) the same -$700 is a change: North, which holds all
    # of it, cannot be named under a min_sample of 1,000 orders, so it is "too few orders to tell".
    quiet = [
        dataclasses.replace(s, variance=s.variance / 100, previous_variance=s.previous_variance / 100)
        for s in segments
    ]
    said = found(quiet, min_sample=1_000)
    assert [i.numbers["role"] for i in said] == ["unclear"], [i.text for i in said]
    assert [i.segment for i in found(quiet)] == ["region = North"]  # and named when it may be


def test_an_average_order_value_is_tested_by_the_variance_of_its_mean():
    # 50 orders averaging $60 after 50 averaging $50: with amounts $5 from their mean, the mean's variance is
    # s^2 / n = 25.5 / 50 = 0.51 (s^2 = 50 x 25 / 49), se = 1.01, z = 9.9; with amounts $50 from it, 100
    # times that: se 10.1, z = 0.99.
    def aov_segment(spread):
        metric = AverageOrderValue()

        def values(mean):
            amounts = [mean + spread, mean - spread] * 25
            return Values(
                {"sales": sum(amounts), "purchases": 50, "invalid": 0, "no_time": 0},
                squares={"sales": sum(x * x for x in amounts)},
            )

        now, before = values(60.0), values(50.0)
        return SegmentAggregate(
            "North",
            metric.value(now),
            50,
            metric.value(before),
            50,
            metric.variance(now),
            metric.variance(before),
        )

    steady, scattered = aov_segment(5.0), aov_segment(50.0)
    assert steady.variance == pytest.approx(25 * 50 / 49 / 50)
    assert distinguishable("currency", steady)
    assert scattered.variance == pytest.approx(2500 * 50 / 49 / 50)
    assert not distinguishable("currency", scattered)


def test_a_sum_or_mean_with_no_variance_is_never_named():
    # Stored values (a /kpi answer from the state database) carry no sums of squares: nothing to test by.
    assert not distinguishable("currency", SegmentAggregate("North", 20_000.0, 400, 16_000.0, 400))
    assert not speaks(SegmentAggregate("North", 20_000.0, 400, 16_000.0, 400), "currency", 30)


def test_a_count_is_told_from_poisson_noise():
    # 100 -> 130: sqrt(230) = 15.2, 1.96 x 15.2 = 29.7 < 30; 100 -> 129: 29 < 29.6.
    assert distinguishable("count", SegmentAggregate("West", 130, 130, 100, 100))
    assert not distinguishable("count", SegmentAggregate("West", 129, 129, 100, 100))
    assert SURE == 1.96


# -- the sums of squares, computed in SQL on every backend -------------------------------------------------


def shop(seed: int = 27):
    """Customers in three regions (and one in none), orders with amounts of every size (refunds, cents,
    large integers) and NPS responses, in 2026-W47 and W46."""
    rng = random.Random(seed)
    regions = ["North", "South", "West", None]
    customers = [
        {
            "customer_id": i,
            "signup_at": "2026-01-05 10:00:00",
            "churned_at": None,
            "channel": "ads",
            "region": regions[i % 4] if i != 7 else None,
        }
        for i in range(1, 41)
    ]
    orders, responses = [], []
    for i in range(1, 241):
        day = 9 + rng.randrange(14)  # 2026-11-09 .. 2026-11-22
        amount = rng.choice([round(rng.uniform(-80, 900), 2), float(rng.randrange(1, 90_000)), 19.99])
        orders.append(
            {
                "order_id": i,
                "customer_id": rng.randrange(1, 41),
                "ordered_at": f"2026-11-{day:02d} {rng.randrange(24):02d}:30:00",
                "amount": amount,
            }
        )
        responses.append(
            {
                "response_id": i,
                "customer_id": rng.randrange(1, 41),
                "survey": "nps",
                "score": rng.randrange(11),
                "responded_at": f"2026-11-{day:02d} 12:00:00",
            }
        )
    return {"customers": customers, "orders": orders, "survey_responses": responses}


def expected_by_region(rows, start_day: int):
    """Plain Python: per region, the revenue, AOV and NPS of the week from ``start_day`` of November and
    their variances (revenue: the sum of squares; AOV: s^2 / n of amounts > 0; NPS: the multinomial)."""
    region = {c["customer_id"]: c["region"] or "(none)" for c in rows["customers"]}
    in_week = lambda at: start_day <= int(at[8:10]) < start_day + 7  # noqa: E731
    found: dict[str, dict[str, float]] = {}
    for name in {*region.values()}:
        amounts = [
            o["amount"]
            for o in rows["orders"]
            if region[o["customer_id"]] == name and in_week(o["ordered_at"])
        ]
        positive = [x for x in amounts if x > 0]
        scores = [
            r["score"]
            for r in rows["survey_responses"]
            if region[r["customer_id"]] == name and in_week(r["responded_at"])
        ]
        n = len(positive)
        mean = sum(positive) / n
        p = sum(s >= 9 for s in scores) / len(scores)
        d = sum(s <= 6 for s in scores) / len(scores)
        found[name] = {
            "revenue": sum(x * x for x in amounts),
            "aov": sum((x - mean) ** 2 for x in positive) / (n - 1) / n,
            "nps": 100**2 * (p + d - (p - d) ** 2) / len(scores),
        }
    return found


def test_the_sums_of_squares_computed_in_sql_agree_with_plain_python(kpi_all_backends):
    rows = shop()
    results = kpi_all_backends.compute(["revenue", "aov", "nps"], "2026-W47", by="region", **rows)
    now, before = expected_by_region(rows, 16), expected_by_region(rows, 9)
    for name in ("revenue", "aov", "nps"):
        segments = {s.segment: s for s in results[name].segments}
        assert set(segments) == set(now), name
        for segment, found in segments.items():
            where = f"{kpi_all_backends.backend}: {name} of {segment}"
            assert found.variance == pytest.approx(now[segment][name], rel=1e-9), where
            assert found.previous_variance == pytest.approx(before[segment][name], rel=1e-9), where


# -- a share over 100 % ------------------------------------------------------------------------------------


def test_a_segment_that_moved_more_than_the_total_is_said_with_what_the_others_did():
    # West 70 % -> 60 % of 1,000 responses a week, North 80 % -> 81 %, East 70 % -> 71 %: the total fell from
    # 73.3 % to 70.7 % (-2.7 pts), West's part is a third of -10 pts (-3.3 pts), the others' +0.67 pts.
    evidence = csat_by_region(
        [
            ("West", 60.0, 1000, 70.0, 1000),
            ("North", 81.0, 1000, 80.0, 1000),
            ("East", 71.0, 1000, 70.0, 1000),
        ]
    )
    (driver,) = Drivers().detect(evidence)
    assert driver.numbers["share"] == pytest.approx(1.25)
    assert driver.numbers["others"] == pytest.approx(2 / 3)
    assert driver.text == (
        "Customer satisfaction (CSAT) fell 2.7 pts; region West fell by more than the total (3.3 pts) "
        "and the others rose by 0.67 pts."
    )
    rising = csat_by_region(
        [
            ("West", 70.0, 1000, 60.0, 1000),
            ("North", 80.0, 1000, 81.0, 1000),
            ("East", 70.0, 1000, 71.0, 1000),
        ]
    )
    (driver,) = Drivers().detect(rising)
    assert driver.text == (
        "Customer satisfaction (CSAT) rose 2.7 pts; region West rose by more than the total (3.3 pts) "
        "and the others fell by 0.67 pts."
    )
    for locale in ("ml", "bn", "fa", "ig"):
        sentence = driver.sentence(locale)
        assert "West" in sentence and "more than the total" not in sentence


# -- digests and /kpi --------------------------------------------------------------------------------------


def test_a_digest_takes_insights_min_sample_unless_it_sets_its_own():
    def spec(digest, **top):
        config = parse_config(
            {**top, "digests": {"weekly": {"metrics": ["csat"], **digest}}}, Path("kpi.toml")
        )
        return digest_spec(config, "weekly", get_registry())

    assert spec({}).min_sample == 30
    assert spec({}, insights={"min_sample": 5}).min_sample == 5
    assert spec({"min_sample": 12}, insights={"min_sample": 5}).min_sample == 12


def test_kpi_insights_on_the_demo_says_too_few_responses_rather_than_naming_a_region(
    run_kpi, tmp_path, demo_database
):
    # The demo's week: 4 to 16 CSAT responses per region, 43 in all; CSAT fell 75.6 % -> 69.8 %.
    (tmp_path / "kpi.toml").write_text(
        f'[source]\nurl = "{demo_database}"\n[insights]\ndimensions = ["region"]\n', encoding="utf-8"
    )
    code, out, err = run_kpi("insights", "csat", "--period", "2026-W47", "--format", "json")
    assert code == 0, err
    (drivers,) = [i for i in json.loads(out) if i["kind"] == "drivers"]
    assert drivers["text"] == (
        "Customer satisfaction (CSAT) fell 5.8 pts; too few responses to tell which region drove it."
    )
    assert drivers["segment"] is None and drivers["numbers"]["min_sample"] == 30
    assert all(u["n"] < 30 for u in drivers["numbers"]["unnamed"])


# -- a lifetime metric: its two periods share their records ---------------------------------------------


def lifetime_shop():
    """Two regions of 60 customers each, every one with an order of about $100 in each of the 19 weeks
    up to 2026-W46; in 2026-W47 North's customers order about $300 each, South's their usual $100."""
    customers = [
        {
            "customer_id": i,
            "signup_at": "2026-01-05 10:00:00",
            "churned_at": None,
            "channel": "ads",
            "region": "North" if i <= 60 else "South",
        }
        for i in range(1, 121)
    ]
    orders = []
    for week in range(20):  # 2026-07-06 (W28) .. 2026-11-16 (W47)
        day = dt.date(2026, 7, 6) + dt.timedelta(weeks=week, days=2)
        for customer in customers:
            north = customer["region"] == "North"
            amount = 300.0 if week == 19 and north else 100.0
            orders.append(
                {
                    "order_id": len(orders) + 1,
                    "customer_id": customer["customer_id"],
                    "ordered_at": f"{day.isoformat()} 12:00:00",
                    "amount": amount + (customer["customer_id"] % 3 - 1),  # $99, $100, $101 (and +200)
                }
            )
    return {"customers": customers, "orders": orders}


def test_a_lifetime_metric_is_tested_by_the_noise_of_the_periods_own_records(kpi):
    rows = lifetime_shop()
    clv = kpi.compute("clv", "2026-W47", by="region", **rows)
    north = next(s for s in clv.segments if s.segment == "North")
    # By hand: CLV = R / C, R the lifetime revenue (20 weeks of orders), C = 60 customers (no new one in
    # W47). The change comes from W47's own orders alone: var = (1 / C)^2 x their sum of squares.
    week = [o["amount"] for o in rows["orders"] if o["ordered_at"] >= "2026-11-16" and o["customer_id"] <= 60]
    assert north.value - north.previous == pytest.approx(sum(week) / 60)  # $300 a customer, 60 customers
    assert north.change_variance == pytest.approx(sum(x * x for x in week) / 60**2, rel=1e-6)
    aggregate = SegmentAggregate(
        "North", north.value, north.n, north.previous, north.previous_n,
        north.variance, north.previous_variance, north.change_variance,
    )  # fmt: skip
    assert distinguishable("currency", aggregate)  # z = 300 / 38.7 (sqrt(60 x 300^2) / 60) = 7.7
    # Each period's own variance is that of 19 or 20 weeks of orders: added as if the two values were
    # independent samples (as before), it hides the change, though they share 19 weeks of orders.
    assert not distinguishable("currency", dataclasses.replace(aggregate, change_variance=None))
    # Through the detector: the rise in CLV is North's (it holds 75 % of it, with half the customers).
    from kpicore.metrics.orders import CustomerLifetimeValue

    metric = CustomerLifetimeValue()
    evidence = _evidence(metric, clv, {"region": clv})
    found = Drivers().detect(evidence)
    assert [(i.segment, i.numbers["role"]) for i in found] == [("region = North", "driver")], [
        i.text for i in found
    ]
