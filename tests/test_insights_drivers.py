"""Drivers and detractors: the decomposition on hand-built aggregates whose answer is known, the detector
on those aggregates, and the detector through `kpi insights` on the demo database."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from kpicore.insights.drivers import Drivers, SegmentAggregate, decompose
from kpicore.metric import Metric
from kpicore.results import MetricResult, Segment


def agg(segment, value, n, previous, previous_n):
    return SegmentAggregate(segment, value, n, previous, previous_n)


# Churn, in percent, by region: (churned, customers at start) per period. South's churn rate goes from
# 2 % to 10 % while every other region stays where it was; its size does not change.
CHURN = {  # region: (churned now, start now, churned before, start before)
    "North": (20, 1000, 20, 1000),
    "South": (50, 500, 10, 500),
    "East": (30, 1500, 30, 1500),
    "(none)": (0, 0, 0, 0),
}


def churn_segments(table):
    return [
        agg(region, 100 * c / s if s else None, s, 100 * pc / ps if ps else None, ps)
        for region, (c, s, pc, ps) in table.items()
    ]


def churn_totals(table):
    churned = sum(v[0] for v in table.values())
    start = sum(v[1] for v in table.values())
    previous_churned = sum(v[2] for v in table.values())
    previous_start = sum(v[3] for v in table.values())
    return 100 * churned / start, 100 * previous_churned / previous_start


def test_ratio_decomposition_sums_exactly_and_puts_the_change_in_the_segment_whose_rate_moved():
    total, previous = churn_totals(CHURN)
    assert (total, previous) == (pytest.approx(10 / 3), pytest.approx(2.0))
    found = decompose(churn_segments(CHURN), total, previous)
    assert found.kind == "ratio"
    assert sum(c.change for c in found.contributions) == found.total_change  # exactly, in fractions
    assert float(found.total_change) == pytest.approx(total - previous)
    by = {c.segment: c for c in found.contributions}
    # The answer: all of the change is South's own rate (1/6 of customers, rate +8 points = +1.333 pts)
    assert by["South"].rate == Fraction(1, 6) * (10 - 2) and by["South"].mix == 0
    assert float(by["South"].share) == pytest.approx(1)
    for region in ("North", "East", "(none)"):
        assert float(by[region].change) == pytest.approx(0)
    assert [c.segment for c in found.drivers()][:1] == ["South"]
    for c in found.contributions:
        assert c.rate + c.mix == c.change


def test_a_pure_mix_shift_is_all_mix_effect():
    # Rates stay at 2 % (North) and 10 % (South); South grows from 20 % to 50 % of the customers.
    table = {"North": (16, 800, 16, 800), "South": (80, 800, 20, 200)}
    total, previous = churn_totals(table)
    found = decompose(churn_segments(table), total, previous)
    assert sum(c.change for c in found.contributions) == found.total_change
    assert float(found.total_change) == pytest.approx(6.0 - 3.6)
    for c in found.contributions:
        assert float(c.rate) == pytest.approx(0)
    # the rise comes from more customers in the high-churn South and fewer in North, counted against the mean
    assert sum(c.mix for c in found.contributions) == found.total_change
    assert float(sum(c.mix for c in found.contributions)) == pytest.approx(2.4)


def test_rate_and_mix_together_sum_exactly_for_awkward_numbers():
    table = {
        "a": (7, 333, 5, 301),
        "b": (11, 97, 13, 211),
        "c": (0, 5, 1, 3),
        "d": (3, 41, 0, 0),
        "e": (0, 0, 2, 17),
    }  # d is new, e is gone: weight 0 in one period
    total, previous = churn_totals(table)
    found = decompose(churn_segments(table), total, previous)
    assert found.kind == "ratio"
    assert sum(c.change for c in found.contributions) == found.total_change
    assert sum(c.rate + c.mix for c in found.contributions) == found.total_change
    assert float(found.total_change) == pytest.approx(total - previous, abs=1e-12)
    by = {c.segment: c for c in found.contributions}
    assert by["d"].rate == 0 and by["e"].rate == 0  # present in one period only: mix alone


def test_additive_decomposition_is_each_segments_change():
    # revenue by channel: ads fell 4000 of the total fall of 5000
    segments = [
        agg("ads", 6000.0, 60, 10000.0, 100),
        agg("seo", 9000.0, 90, 10000.0, 95),
        agg("(none)", 500.0, 4, 500.0, 4),
    ]
    found = decompose(segments, 15500.0, 20500.0)
    assert found.kind == "additive"
    assert found.total_change == -5000
    assert {c.segment: c.change for c in found.contributions} == {"ads": -4000, "seo": -1000, "(none)": 0}
    assert sum(c.change for c in found.contributions) == found.total_change
    ads = found.drivers()[0]
    assert (ads.segment, ads.share, float(ads.base)) == ("ads", Fraction(4, 5), pytest.approx(10000 / 20500))


def test_additive_float_sums_sum_exactly_in_fractions():
    values = [(0.1, 0.7), (0.2, 0.3), (0.3, 0.05)]
    segments = [agg(str(i), now, 1, before, 1) for i, (now, before) in enumerate(values)]
    found = decompose(segments, sum(v for v, _ in values), sum(b for _, b in values))
    assert sum(c.change for c in found.contributions) == found.total_change


@pytest.mark.parametrize(
    ("segments", "total", "previous", "why"),
    [
        (
            [agg("a", 5.0, 10, 4.0, 10), agg("b", 7.0, 10, 4.0, 10)],
            9.0,
            4.0,
            "neither a sum nor a mean: a median",
        ),
        ([agg("a", 5.0, 10, None, 10)], 5.0, 4.0, "records without a value"),
        ([agg("a", 5.0, None, 4.0, 10)], 5.0, 4.0, "no count"),
        ([agg("a", 5.0, 10, 5.0, 10), agg("b", 1.0, 10, 1.0, 10)], 6.0, 6.0, "nothing changed"),
        ([], 5.0, 4.0, "no segments"),
    ],
)
def test_no_decomposition_rather_than_a_wrong_one(segments, total, previous, why):
    assert decompose(segments, total, previous) is None, why


# -- the detector on hand-built results ---------------------------------------------------------------------


class _Metric(Metric):
    def __init__(self, name, title, unit, better):
        self.name, self.title, self.unit, self.better = name, title, unit, better


def _result(metric, value, previous, segments=None, dimension=None):
    return MetricResult(
        metric=metric.name,
        title=metric.title,
        unit=metric.unit,
        better=metric.better,
        status="ok",
        period="2026-W47",
        start="",
        end="",
        value=value,
        previous=previous,
        segments=segments,
        dimension=dimension,
    )


def _evidence(metric, result, segments):
    from kpicore.insights.base import Evidence

    return Evidence(
        metric=metric,
        period=None,
        result=result,
        history=[],
        segments=segments,
        config=None,
        settings=dict(Drivers.settings),
        options={"dimensions": list(segments)},
    )


def _as_segments(aggregates):
    return [
        Segment(
            a.segment,
            a.value,
            a.n,
            a.previous,
            previous_n=a.previous_n,
            variance=a.variance,
            previous_variance=a.previous_variance,
        )
        for a in aggregates
    ]


def without_noise(segments):
    """``segments`` with a variance of 0: their changes are all real (the tests of the decomposition and
    its ranking; tests/test_insights_samples.py tests the noise)."""
    return [SegmentAggregate(a.segment, a.value, a.n, a.previous, a.previous_n, 0.0, 0.0) for a in segments]


def test_the_detector_names_the_segment_and_keeps_the_rate_and_mix_effects_in_its_numbers():
    churn = _Metric("churn_rate", "Churn rate", "percent", "lower")
    total, previous = churn_totals(CHURN)
    # plan: the same change spread evenly (each plan has the same share of South): explains nothing
    plan = {"basic": (50, 1500, 30, 1500), "pro": (50, 1500, 30, 1500)}
    evidence = _evidence(
        churn,
        _result(churn, total, previous),
        {
            "region": _result(churn, total, previous, _as_segments(churn_segments(CHURN)), "region"),
            "plan": _result(churn, total, previous, _as_segments(churn_segments(plan)), "plan"),
            "channel": None,  # cannot be broken down
        },
    )
    (insight,) = Drivers().detect(evidence)
    assert insight.segment == "region = South" and insight.kind == "drivers"
    # Rate and mix effects are in the numbers, not in an owner's sentence.
    assert insight.text == "Churn rate rose 1.3 pts; 100% of that came from region South (+1.3 pts)."
    assert insight.needs_attention is True  # churn up is bad news
    numbers = insight.to_json()["numbers"]
    assert numbers["method"] == "ratio" and numbers["segment"] == "South"
    assert sum(numbers["contributions"].values()) == pytest.approx(numbers["change"], abs=1e-12)
    assert numbers["rate"] + numbers["mix"] == pytest.approx(numbers["segments"][0]["change"])


def _revenue_by_channel(segments):
    """Evidence of revenue falling from 20,000 to 18,000, broken down by channel into ``segments``."""
    revenue = _Metric("revenue", "Revenue", "currency", "higher")
    return _evidence(
        revenue,
        _result(revenue, 18000.0, 20000.0),
        {"channel": _result(revenue, 18000.0, 20000.0, _as_segments(without_noise(segments)), "channel")},
    )


def test_the_detector_reports_a_detractor_and_says_nothing_without_a_clear_driver():
    segments = [agg("ads", 6000.0, 60, 10000.0, 100), agg("seo", 12000.0, 90, 10000.0, 95)]
    driver, detractor = Drivers().detect(_revenue_by_channel(segments))
    assert driver.segment == "channel = ads" and driver.numbers["share"] == 2.0
    assert driver.text == (  # not "200% of that came from channel ads"
        "Revenue fell $2,000.00; channel ads fell by more than the total ($4,000.00) "
        "and the others rose by $2,000.00."
    )
    assert detractor.segment == "channel = seo" and detractor.numbers["role"] == "detractor"
    assert detractor.needs_attention is False  # seo rose: good news
    # in an owner's words: the total's direction, then the segment that pulled the other way (not "moved")
    assert detractor.text == "Revenue fell $2,000.00 overall, but channel seo pulled it up $2,000.00."
    rising = [agg("ads", 14000.0, 60, 10000.0, 100), agg("seo", 8000.0, 90, 10000.0, 95)]
    revenue = _Metric("revenue", "Revenue", "currency", "higher")
    up = _evidence(
        revenue,
        _result(revenue, 22000.0, 20000.0),
        {"channel": _result(revenue, 22000.0, 20000.0, _as_segments(without_noise(rising)), "channel")},
    )
    _driver, against = Drivers().detect(up)
    assert against.text == "Revenue rose $2,000.00 overall, but channel seo pulled it down $2,000.00."
    assert against.needs_attention is True  # seo fell: worth a look
    # every segment moved alike: no driver, and no detractor
    even = [agg("ads", 9000.0, 60, 10000.0, 100), agg("seo", 9000.0, 90, 10000.0, 95)]
    assert Drivers().detect(_revenue_by_channel(even)) == []


def test_a_share_just_over_the_total_is_said_as_more_than_the_total_not_104_percent():
    # the demo's "104% of that came from region South": a share over 100 % reads as an error
    segments = [agg("ads", 7920.0, 60, 10000.0, 100), agg("seo", 10080.0, 90, 10000.0, 95)]
    driver = Drivers().detect(_revenue_by_channel(segments))[0]
    assert driver.numbers["share"] == pytest.approx(1.04)
    assert "%" not in driver.text.split(";")[1], driver.text
    assert "fell by more than the total ($2,080.00) and the others rose by $80.00" in driver.text


# -- through `kpi insights` on the demo database -----------------------------------------------------------


def test_kpi_insights_lists_drivers_computed_from_segment_aggregates(run_kpi, tmp_path, demo_database):
    config = (
        f'[source]\nurl = "{demo_database}"\n[insights]\ndimensions = ["region"]\n'
        "[insights.drivers]\nmin_share = 0.0\nmin_excess = -1.0\nmin_net = 0.0\n"
    )
    # revenue's -0.2 % is within its own noise: by default no drivers insight at all (nothing to explain)
    (tmp_path / "kpi.toml").write_text(config, encoding="utf-8")
    code, out, err = run_kpi("insights", "revenue", "--period", "2026-W47", "--format", "json")
    assert code == 0, err
    assert [i for i in json.loads(out) if i["kind"] == "drivers"] == []
    # with noise_sd = 0 the decomposition is said, "too few orders to tell"
    (tmp_path / "kpi.toml").write_text(config + "noise_sd = 0.0\n", encoding="utf-8")
    code, out, err = run_kpi("insights", "revenue", "churn_rate", "--period", "2026-W47", "--format", "json")
    assert code == 0, err
    drivers = [i for i in json.loads(out) if i["kind"] == "drivers" and i["numbers"]["role"] != "detractor"]
    assert {i["metric"] for i in drivers} == {"revenue", "churn_rate"}
    # South's churn went from 0.4 % to 5.9 % of ~490 customers; revenue's -0.2 % is noise in every region
    # (East's -$2,174 has a standard error of $1,357 from its orders' sums of squares)
    roles = {i["metric"]: (i["numbers"]["role"], i["segment"]) for i in drivers}
    assert roles == {"churn_rate": ("driver", "region = South"), "revenue": ("unclear", None)}
    code, out, err = run_kpi(
        "compute", "revenue", "churn_rate", "--period", "2026-W47", "--by", "region", "--format", "json"
    )
    assert code == 0, err
    for result in json.loads(out):
        (insight,) = [i for i in drivers if i["metric"] == result["metric"]]
        numbers = insight["numbers"]
        assert numbers["change"] == pytest.approx(result["delta"], abs=1e-9)
        assert sum(numbers["contributions"].values()) == pytest.approx(result["delta"], abs=1e-9)
        assert set(numbers["contributions"]) == {s["segment"] for s in result["segments"]}
        if result["metric"] == "revenue":  # additive: each contribution is the segment's own delta
            assert numbers["method"] == "additive"
            assert numbers["contributions"] == {
                s["segment"]: pytest.approx(s["delta"]) for s in result["segments"]
            }
        else:
            assert numbers["method"] == "ratio"


@pytest.mark.parametrize("locale", ["ml", "bn", "fa", "ig"])
def test_the_sentences_are_translated(locale):
    churn = _Metric("churn_rate", "Churn rate", "percent", "lower")
    total, previous = churn_totals(CHURN)
    evidence = _evidence(
        churn,
        _result(churn, total, previous),
        {"region": _result(churn, total, previous, _as_segments(churn_segments(CHURN)), "region")},
    )
    revenue = _Metric("revenue", "Revenue", "currency", "higher")
    segments = [agg("ads", 6000.0, 60, 10000.0, 100), agg("seo", 12000.0, 90, 10000.0, 95)]
    revenue_evidence = _evidence(
        revenue,
        _result(revenue, 18000.0, 20000.0),
        {"channel": _result(revenue, 18000.0, 20000.0, _as_segments(without_noise(segments)), "channel")},
    )
    insights = [*Drivers().detect(evidence), *Drivers().detect(revenue_evidence)]
    assert len({i.message for i in insights}) == 3  # ratio driver, additive driver, detractor
    for insight in insights:
        sentence = insight.sentence(locale)
        assert sentence != insight.text and "moved" not in sentence
        assert insight.numbers["segment"] in sentence


def test_the_driver_evaluation_ranks_the_injected_segment_first(tmp_path):
    """benchmarks/insights_drivers_eval.py on a small seed: real SQLite databases, the real compute path."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    started = time.perf_counter()
    completed = subprocess.run(
        [
            sys.executable,
            str(root / "benchmarks" / "insights_drivers_eval.py"),
            "--trials",
            "20",
            "--seed",
            "11",
            "--customers",
            "2000",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    result = json.loads(completed.stdout)
    assert result["trials"] == 20 and result["customers"] == 2000
    assert result["ranked_first"] >= 0.9, result["misses"]
    assert result["churn_surge"] >= 0.8 and result["revenue_drop"] >= 0.8, result
    print(f"driver evaluation: {result['ranked_first']:.0%} in {time.perf_counter() - started:.1f} s")


def test_no_driver_when_the_segments_moves_cancel_out():
    revenue = _Metric("revenue", "Revenue", "currency", "higher")
    # North +2400 and East -2200: a net +200 is a wash, not a change that North drove (share 1,200 %)
    segments = [agg("North", 12400.0, 100, 10000.0, 100), agg("East", 7800.0, 90, 10000.0, 90)]
    found = decompose(segments, 20200.0, 20000.0)
    assert found.net_share == Fraction(200, 4600)
    evidence = _evidence(
        revenue,
        _result(revenue, 20200.0, 20000.0),
        {"region": _result(revenue, 20200.0, 20000.0, _as_segments(without_noise(segments)), "region")},
    )
    assert Drivers().detect(evidence) == []
    evidence.settings["min_net"] = 0.0
    assert [i.segment for i in Drivers().detect(evidence)] == ["region = North", "region = East"]


def test_the_mix_effect_is_counted_against_the_overall_rate():
    # Rates stay at 2 % (North) and 10 % (South); South grows from 20 % to 50 % of the customers. North's
    # shrinking helps the rise (it had the low rate), South's growth makes the rest of it.
    table = {"North": (16, 800, 16, 800), "South": (80, 800, 20, 200)}
    total, previous = churn_totals(table)
    by = {c.segment: c for c in decompose(churn_segments(table), total, previous).contributions}
    mean_rate = (Fraction(6) + Fraction(36, 10)) / 2
    assert by["North"].mix == (Fraction(1, 2) - Fraction(4, 5)) * (2 - mean_rate)  # +0.84 pts
    assert by["South"].mix == (Fraction(1, 2) - Fraction(1, 5)) * (10 - mean_rate)  # +1.56 pts
    assert by["North"].mix > 0


def test_the_driver_is_the_segment_that_moved_more_than_its_size_not_the_largest():
    revenue = _Metric("revenue", "Revenue", "currency", "higher")
    # region: South is 20 % of revenue and holds 60 % of the fall; plan: basic is 90 % of revenue and
    # holds 90 % of it (every plan fell alike)
    region = [agg("South", 1400.0, 14, 2000.0, 20), agg("North", 7600.0, 76, 8000.0, 80)]
    plan = [agg("basic", 8100.0, 81, 9000.0, 90), agg("pro", 900.0, 9, 1000.0, 10)]
    evidence = _evidence(
        revenue,
        _result(revenue, 9000.0, 10000.0),
        {
            "plan": _result(revenue, 9000.0, 10000.0, _as_segments(without_noise(plan)), "plan"),
            "region": _result(revenue, 9000.0, 10000.0, _as_segments(without_noise(region)), "region"),
        },
    )
    (driver,) = Drivers().detect(evidence)
    assert driver.segment == "region = South"
    assert driver.numbers["share"] == pytest.approx(0.6) and driver.numbers["excess"] == pytest.approx(0.4)


def test_a_count_that_moved_within_counting_noise_has_no_driver():
    """38 -> 36 new customers is within two standard deviations of counting noise (sqrt(38 + 36) = 8.6):
    no segment 'drove' it; 380 -> 300 is not (sqrt(680) = 26, the change 80), and gets its driver."""
    new_customers = _Metric("new_customers", "New customers", "count", "higher")

    def evidence(basic, pro):
        value, previous = basic[0] + pro[0], basic[1] + pro[1]
        segments = [
            agg("basic", basic[0], basic[0], basic[1], basic[1]),
            agg("pro", pro[0], pro[0], pro[1], pro[1]),
        ]
        return _evidence(
            new_customers,
            _result(new_customers, value, previous),
            {"plan": _result(new_customers, value, previous, _as_segments(segments), "plan")},
        )

    assert Drivers().detect(evidence((17, 21), (19, 17))) == []
    (driver, *_) = Drivers().detect(evidence((140, 210), (160, 170)))
    assert driver.segment == "plan = basic" and driver.numbers["change"] == -80


def test_a_segment_of_a_few_responses_is_never_named_and_nor_is_noise():
    # "CSAT moved -2.0 pts; 162% of that came from region West": West had 8 responses, then 9.
    csat = _Metric("csat", "Customer satisfaction (CSAT)", "percent", "higher")
    rows = [agg("West", 87.5, 8, 100.0, 9), agg("North", 79.5, 40, 80.0, 40), agg("East", 70.5, 40, 70.0, 40)]
    total = sum(a.value * a.n for a in rows) / sum(a.n for a in rows)
    previous = sum(a.previous * a.previous_n for a in rows) / sum(a.previous_n for a in rows)
    evidence = _evidence(
        csat,
        _result(csat, total, previous),
        {"region": _result(csat, total, previous, _as_segments(rows), "region")},
    )
    evidence.options["min_sample"] = 30
    assert all("West" not in i.text for i in Drivers().detect(evidence))
    evidence.options["min_sample"] = 0  # even allowed, a change of one answer in 8 is noise to a z test
    assert all("West" not in i.text for i in Drivers().detect(evidence))
    # A big segment whose rate really moved is still named.
    rows = [agg("West", 50.0, 300, 80.0, 300), agg("North", 80.0, 200, 79.0, 200)]
    total = sum(a.value * a.n for a in rows) / sum(a.n for a in rows)
    previous = sum(a.previous * a.previous_n for a in rows) / sum(a.previous_n for a in rows)
    evidence = _evidence(
        csat,
        _result(csat, total, previous),
        {"region": _result(csat, total, previous, _as_segments(rows), "region")},
    )
    evidence.options["min_sample"] = 30
    assert any(i.segment == "region = West" for i in Drivers().detect(evidence))
