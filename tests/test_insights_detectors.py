"""Each insight's arithmetic on hand-built values where the right answer is known (pure functions)."""

from __future__ import annotations

import math
import random

import pytest

from kpicore.insights.concentration import additive, concentrated
from kpicore.insights.forecast import forecast
from kpicore.insights.trend import direction, mann_kendall
from kpicore.insights.unusual import band, history_needed, plain_band, seasonal_effect, theil_sen


def test_theil_sen_ignores_an_outlier():
    points = [(i, 2.0 * i + 1) for i in range(10)]
    points[4] = (4, 500.0)
    slope, intercept = theil_sen(points)
    assert slope == pytest.approx(2.0) and intercept == pytest.approx(1.0)


def test_plain_band_on_an_exact_line_expects_its_next_point_and_nothing_else():
    history = [5.0 + 2 * i for i in range(40)]
    found = plain_band([*history, 85.0])
    assert found.expected == pytest.approx(85.0) and found.scale == 0
    assert not found.outside(85.0) and found.outside(85.5) and found.outside(84.0)
    assert found.method == "plain" and found.history == 40


def test_plain_band_is_as_wide_as_its_own_misses():
    # Alternating 9, 11: every one-step prediction misses by about 1, so the band is a few units wide.
    history = [9.0, 11.0] * 15
    found = plain_band([*history, 10.0], threshold=3)
    assert 9.0 <= found.expected <= 11.0
    assert 1.4826 <= found.scale <= 3.0
    assert not found.outside(9.0) and not found.outside(11.0)
    assert found.outside(found.high + 0.01) and found.outside(found.low - 0.01)


def test_plain_band_follows_a_growing_business_and_a_past_spike_does_not_widen_it():
    history = [100.0 + 5 * i + (1 if i % 2 else -1) for i in range(20)]
    history[7] = 900.0  # a past outlier
    found = plain_band([*history, 200.0])
    assert found.expected == pytest.approx(200.0, abs=1.5)
    assert found.scale < 3
    assert found.outside(220.0) and not found.outside(202.0)


def test_too_little_history_gives_no_band_and_a_missing_value_is_never_outside():
    assert plain_band([1.0, 2.0, 3.0, 4.0], min_history=8) is None
    assert band([None, None, 5.0, 6.0, 7.0], "week") is None
    found = plain_band([9.0, 11.0] * 6 + [10.0])
    assert not found.outside(None)


def shifted_shop(seed: int, *, at: int = 60, step: float = 10.0, weeks: int = 100) -> list[float]:
    """Weekly values of level 100, noise SD 1, growing 0.05 a week, the level moving by ``step`` at
    week ``at`` and staying there."""
    rng = random.Random(seed)
    return [100.0 + 0.05 * i + rng.gauss(0, 1) + (step if i >= at else 0.0) for i in range(weeks)]


@pytest.mark.parametrize("seed", range(6))
def test_after_a_level_shift_the_recent_weeks_confirm_an_event_is_judged_by_the_noise(seed):
    values = shifted_shop(seed)
    # the shift's own weeks are no misses of the band thirty weeks later: it is as wide as the noise
    found = plain_band(values[:91])
    assert found.scale < 1.6, found
    spiked = [*values[:90], values[90] + 7.0]
    assert plain_band(spiked).outside(spiked[-1])
    # the first weeks at the new level are flagged; once eight confirm it, the weeks after are judged
    # as any others (about one false flag in 200 weeks at this threshold)
    assert plain_band(values[:61]).outside(values[60])
    assert sum(plain_band(values[: week + 1]).outside(values[week]) for week in range(68, 100)) <= 1
    from kpicore.insights.bands import level_shift

    assert level_shift(values[:90], 52, 13)[0] == 60


@pytest.mark.parametrize("seed", range(4))
def test_a_peak_that_ended_a_growing_business_and_noise_are_no_level_shift(seed):
    from kpicore.insights.bands import level_shift

    rng = random.Random(seed)
    peak = [100.0 + rng.gauss(0, 1) + (40.0 if 30 <= i < 37 else 0.0) for i in range(52)]
    assert level_shift(peak, 52, 13) is None  # seven weeks at +40, then back
    growing = [100.0 * 1.3 ** (i / 52) * math.exp(rng.gauss(0, 0.05)) for i in range(52)]
    assert level_shift(growing, 52, 13) is None
    assert level_shift([rng.gauss(0, 1) for _ in range(52)], 52, 13) is None


def weekly_with_season(years: float, peak: float = 50.0, seed: int = 3):
    """Weekly values: level 100 with noise SD 2 and a peak of ``peak`` in week 47 of every year."""
    rng = random.Random(seed)
    return [100.0 + rng.gauss(0, 2) + (peak if i % 52 == 46 else 0.0) for i in range(int(years * 52))]


def test_a_seasonal_peak_seen_in_two_earlier_years_is_not_unusual():
    values = weekly_with_season(3.1)
    last_peak = max(i for i in range(len(values)) if i % 52 == 46)
    history = values[: last_peak + 1]
    found = band(history[-history_needed("week", {}) :], "week")
    assert found.method == "seasonal" and found.season == 52
    assert not found.outside(history[-1])
    assert found.expected == pytest.approx(150.0, abs=6)
    # The plain band (what less than a year of history gives) flags it, and says it fell back.
    short = band(history[-40:], "week")
    assert short.method == "plain" and short.fallback and short.outside(history[-1])


def test_a_spike_in_one_earlier_year_is_not_taken_for_a_season():
    values = weekly_with_season(3.1, peak=0.0)
    week = 2 * 52 + 46
    values[week - 52] += 60  # a one-off spike a year before
    found = seasonal_effect(values[: week + 1], week, 52, ratio=True)
    assert found.effect == 0.0 and found.seasons == 2  # the two earlier years disagree: no season
    found = band(values[: week + 1], "week")
    assert found.method == "seasonal" and not found.outside(values[week])
    assert found.outside(values[week] - 15)  # a drop is still seen; a rise like last year's is doubt


def test_daily_data_uses_the_day_of_the_week():
    rng = random.Random(5)
    weekday = [20.0, 20, 20, 20, 20, 60, 60]  # weekends are busy
    values = [weekday[i % 7] + rng.gauss(0, 1) for i in range(7 * 2 + 26 + 13 + 10)]
    while len(values) % 7 != 6:  # end on a weekend day
        values.append(weekday[len(values) % 7] + rng.gauss(0, 1))
    found = band(values, "day")
    assert found.method == "seasonal" and found.season == 7
    assert not found.outside(values[-1]) and found.expected == pytest.approx(60, abs=3)
    assert found.outside(25.0)


def test_mann_kendall_on_a_known_sequence():
    # 1..6 strictly rising: S = 15, var = 6*5*17/18 = 28.333, z = 14/sqrt(28.333).
    z, p = mann_kendall([1, 2, 3, 4, 5, 6])
    assert z == pytest.approx(14 / math.sqrt(28.333333), rel=1e-6)
    assert p == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert mann_kendall([3, 3, 3, 3]) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([10, 11, 12, 13, 14, 15, 16, 17], 1),
        ([17, 16, 15, 14, 13, 12, 11, 10], -1),
        ([10, 12, 9, 11, 10, 12, 9, 11], 0),
        ([100, 100.1, 100.2, 100.3, 100.4, 100.5, 100.6, 100.7], 0),  # rising, but by less than 5 %
    ],
)
def test_direction_of_a_trend(values, expected):
    sign, _, _ = direction(values, confidence=0.95, min_change=0.05)
    assert sign == expected


def test_a_trend_with_a_gap_is_no_trend():
    assert direction([1, 2, None, 4, 5, 6], confidence=0.95, min_change=0.05) is None


def test_the_forecast_continues_a_line_and_its_interval_holds_the_truth():
    rng = random.Random(1)
    values = [50 + 2 * i + rng.gauss(0, 1) for i in range(30)]
    mean, low, high = forecast(values, 0.8)
    assert low < 50 + 2 * 30 < high
    assert mean == pytest.approx(110, abs=3)
    assert high - low < 10
    assert forecast([5.0] * 12) is None


@pytest.mark.parametrize(
    ("segments", "total", "share", "expected"),
    [
        ([("email", 60.0), ("social", 40.0)], 100.0, 0.5, ("email", 0.6)),
        ([("email", 50.0), ("social", 50.0)], 100.0, 0.5, None),  # exactly half is not more than half
        ([("(none)", 80.0), ("social", 20.0)], 100.0, 0.5, None),  # "no channel" is never named
        ([("a", 30.0), ("b", 30.0), ("c", 40.0)], 100.0, 0.35, ("c", 0.4)),
        ([("a", -10.0), ("b", 110.0)], 100.0, 0.5, None),
        ([], 0.0, 0.5, None),
    ],
)
def test_concentration(segments, total, share, expected):
    found = concentrated(segments, total, share)
    if expected is None:
        assert found is None
    else:
        assert found[0] == expected[0] and found[1] == pytest.approx(expected[1])


def test_only_additive_metrics_have_shares():
    assert additive([60.0, 40.0], 100.0)
    assert not additive([3.0, 5.0], 4.1)  # rates of segments do not add up to the total rate


def test_a_percentage_forecast_stays_between_0_and_100_and_a_count_above_0():
    # "Retention rate 91.0% (80% range 75.4% to 106.6%)": the interval is clipped to the metric's range.
    from kpicore.insights.forecast import clipped

    assert clipped(91.0, 75.4, 106.6, "percent") == (91.0, 75.4, 100.0)
    assert clipped(-3.0, -10.0, 4.0, "count") == (0.0, 0.0, 4.0)
    assert clipped(95.0, 80.0, 120.0, "points") == (95.0, 80.0, 100.0)
    assert clipped(-50.0, -900.0, 10.0, "currency") == (-50.0, -900.0, 10.0)  # refunds
