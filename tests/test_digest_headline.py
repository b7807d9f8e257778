"""The headline's choice on hand-built results: which metric it names, and why."""

from __future__ import annotations

from kpicore.digest.headline import (
    Attention,
    by_impact,
    change_score,
    headline,
    main_segment,
    since,
    usual_variation,
)
from kpicore.results import Segment
from tests.digest_data import result, weekly_trend


def nps(value, previous, **extra):
    return result("nps", "NPS", "points", "higher", value, previous, 46, n_noun="responses", **extra)


def revenue(value, previous, **extra):
    return result("revenue", "Revenue", "currency", "higher", value, previous, 571, n_noun="orders", **extra)


def churn(value, previous, **extra):
    return result("churn_rate", "Churn rate", "percent", "lower", value, previous, 1845, **extra)


def test_counts_the_worse_and_names_the_largest_fall():
    results = [
        revenue(38084.69, 37555.94),  # +1.4 %: better, small
        result("new_customers", "New customers", "count", "higher", 40, 41, 40),  # -2.4 %: worse, small
        churn(0.49, 0.44),  # +0.05 pts on 0.44: worse, score 0.05 / 0.1 = 0.5
        nps(-15.2, 7.0),  # -22.2 points: worse, score 2.2
    ]
    top = headline(results)
    assert top.summary == "3 of 4 KPIs worse than last week."
    assert top.named.metric == "nps"
    assert top.focus == "NPS fell 22.2 points to -15.2."
    assert top.text == "3 of 4 KPIs worse than last week. NPS fell 22.2 points to -15.2."


def test_usual_variation_decides_between_two_falls():
    # Revenue falls 10 % (score 1 without a trend) and NPS 5 points (0.5): revenue is named ...
    flat = [revenue(90_000, 100_000), nps(10, 15)]
    assert headline(flat).named.metric == "revenue"
    # ... unless revenue swings by 10,000 every week while NPS never moves more than a point.
    swinging = weekly_trend([100_000, 110_000, 100_000, 110_000, 100_000, 90_000])
    steady = weekly_trend([14.0, 15.0, 14.0, 15.0, 15.0, 10.0])
    results = [revenue(90_000, 100_000, trend=swinging), nps(10, 15, trend=steady)]
    assert usual_variation(results[0]) == 10_000
    assert change_score(results[0]) == 1.0  # a fall of 10,000 against a usual 10,000
    assert change_score(results[1]) > 6  # 5 points against a usual 0.83
    assert headline(results).named.metric == "nps"


def test_a_worse_change_outranks_a_larger_better_one():
    results = [revenue(200_000, 100_000), churn(2.2, 2.0)]  # revenue doubled; churn slightly worse
    top = headline(results)
    assert top.named.metric == "churn_rate"
    assert top.focus == "Churn rate rose 0.20 points to 2.2%."


def test_good_news_when_nothing_got_worse():
    top = headline([revenue(110_000, 100_000), churn(2.0, 2.0)], currency="EUR")
    assert top.summary == "No KPI worse than last week; 1 of 2 better."
    assert top.focus == "Revenue rose 10.0% to €110,000.00."


# South: about 11 detractors in 40 responses and no promoter, after 40 passives: the multinomial variance
# of its NPS is 100^2 x (0.278 - 0.278^2) / 40 = 50 (0 before), so -27.8 is 3.9 standard errors.
SOUTH = Segment("South", -27.8, 40, previous=0.0, previous_n=40, variance=50.0, previous_variance=0.0)


def test_names_the_segment_that_moved_most_but_never_a_small_one():
    segments = [
        Segment("East", -83.3, 6, previous=-14.3),  # the largest fall, but 6 responses
        SOUTH,
        Segment("West", 33.3, 35, previous=55.6),
        Segment("(none)", -50.0, 2, previous=0.0),
    ]
    result_ = nps(-15.2, 7.0, segments=segments, dimension="region")
    segment, share = main_segment(result_)
    assert segment.segment == "South"  # 40 x -27.8 = -1112 of |-414| + 1112 + 780.5 + 100 in all
    assert 0.4 < share < 0.5
    assert headline([result_]).focus == "NPS fell 22.2 points to -15.2, the most in South."
    assert main_segment(result_, min_sample=50) is None
    # With South the only large one moving this way and most of the movement, "most of it".
    mostly = nps(
        -15.2,
        7.0,
        segments=[SOUTH, Segment("(none)", 0, 40, previous=1)],
        dimension="region",
    )
    assert headline([mostly]).focus == "NPS fell 22.2 points to -15.2, most of it in South."
    # The same fall of 40 responses with no variance known is held to the widest a score can have: noise.
    noisy = nps(-15.2, 7.0, segments=[Segment("South", -27.8, 40, previous=0.0)], dimension="region")
    assert headline([noisy]).focus == "NPS fell 22.2 points to -15.2."


def test_the_missing_group_is_named_for_people():
    result_ = nps(-15.2, 7.0, segments=[Segment("(none)", -30.0, 300, previous=10.0)], dimension="region")
    assert headline([result_]).focus.endswith("most of it in no region.")


def test_extra_candidates_from_insights_or_alerts_can_win():
    alert = Attention("revenue", 50.0, "Revenue is below its target of $40,000.", kind="target")
    top = headline([revenue(38_000, 37_000), nps(-15, 7)], extra=[alert])
    assert top.named is alert and top.focus == "Revenue is below its target of $40,000."


def test_an_unusual_value_says_its_metrics_change_even_when_the_change_scores_higher():
    # The Persian demo's Saturday week: churn rose 1.3 points, 6 of its usual moves, and is unusual at
    # z = 4.2. The change alone ("rose 1.3 points to 1.7%") would win on its score; the unusual one says
    # the same change with its record, its driver and revenue at risk, and takes the change's rank.
    surge = Attention(
        "churn_rate",
        4.2,
        "Churn rate jumped to 1.7%, the highest in 69 weeks; most of it in South.",
        "unusual",
    )
    rising = churn(1.7, 0.4, trend=weekly_trend([0.4, 0.5, 0.3, 0.6, 0.4, 0.5, 0.4, 1.7]))
    alone = headline([rising, revenue(38_000, 37_000)])
    assert alone.named.kind == "change" and alone.named.score > 4.2  # the change's own score
    top = headline([rising, revenue(38_000, 37_000)], extra=[surge])
    assert top.named.kind == "unusual" and top.named.sentence == surge.sentence
    assert top.named.score == alone.named.score
    # another metric's bigger change still wins over it
    crash = revenue(10_000, 37_000, trend=weekly_trend([36_000, 37_500, 36_800, 37_200, 37_000, 10_000]))
    assert headline([rising, crash], extra=[surge]).named.metric == "revenue"


def test_nothing_to_compare_and_other_periods():
    lonely = revenue(100, None)
    assert headline([lonely]).summary == "No KPI can be compared with last week."
    assert headline([lonely]).focus is None
    assert headline([]).text == "No KPIs in this digest."
    assert (
        since("2026-11"),
        since("2026-Q3"),
        since("2026"),
        since("2026-11-23"),
        since("2026-11-01..2026-11-15"),
    ) == (
        "last month",
        "last quarter",
        "last year",
        "yesterday",
        "the period before",
    )


def test_segments_sort_by_their_part_in_the_change():
    segments = [
        Segment("A", 50.0, 100, previous=49.0),  # moved 1 point x 100
        Segment("B", 10.0, 10, previous=40.0),  # moved 30 points x 10: the most
        Segment("C", 30.0, 0, previous=None),  # no records: last
        Segment("D", 70.0, 50, previous=70.0),  # did not move
    ]
    assert [s.segment for s in by_impact(segments, "points")] == ["B", "A", "D", "C"]
    # Amounts add up: the segment's own change is its part.
    money = [Segment("A", 100.0, 1, previous=50.0), Segment("B", 1000.0, 90, previous=990.0)]
    assert [s.segment for s in by_impact(money, "currency")] == ["A", "B"]
    # Without a previous period: by value, largest first.
    assert [s.segment for s in by_impact([Segment("A", 1.0, 5), Segment("B", 2.0, 5)], "count")] == ["B", "A"]
