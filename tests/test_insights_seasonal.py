"""The unusual-change band on a growing shop with a December peak: seasonal from the first full season,
following level and growth, an ordinary week beside the peak left alone (pure functions)."""

from __future__ import annotations

import math
import random

import pytest

from kpicore.insights.unusual import band, history_needed, year_lags

#: Weeks (0-based within the year) of the December peak: +40 % over four weeks.
PEAK = range(48, 52)


def growing_shop(years: float, *, seed: int = 7, growth: float = 0.20, noise: float = 0.03) -> list[float]:
    """Weekly revenue growing ``growth`` a year, a December peak of +40 %, multiplicative noise."""
    rng = random.Random(seed)
    values = []
    for week in range(int(years * 52)):
        level = 100_000 * (1 + growth) ** (week / 52)
        if week % 52 in PEAK:
            level *= 1.4
        values.append(level * math.exp(rng.gauss(0, noise)))
    return values


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_an_ordinary_late_november_week_beside_the_peak_is_not_unusual(seed):
    values = growing_shop(3, seed=seed)
    week = 2 * 52 + 47  # the week before the third December's peak
    history = values[: week + 1]
    assert abs(history[-1] / (sum(history[-7:-1]) / 6) - 1) < 0.1
    found = band(history[-history_needed("week", {}) :], "week")
    assert found is not None and not found.outside(history[-1])


@pytest.mark.parametrize("years", [2, 3])
def test_the_december_peak_seen_a_year_before_is_not_unusual(years):
    values = growing_shop(years + 1)
    for offset in PEAK:
        week = years * 52 + offset  # the second (or third) December
        history = values[: week + 1][-history_needed("week", {}) :]
        found = band(history, "week")
        assert found.method == "seasonal" and not found.fallback, (years, offset)
        assert not found.outside(history[-1]), (years, offset, found)


def test_from_one_season_a_spike_is_still_found_and_so_is_a_missing_peak():
    values = growing_shop(2)
    spike = 52 + 20
    values[spike] *= 1.3  # ten noise SDs
    found = band(values[: spike + 1], "week")
    assert found.method == "seasonal" and found.outside(values[spike])
    quiet = band(values[:spike], "week")
    assert not quiet.outside(values[spike - 1])


def test_a_season_seen_only_once_follows_growth():
    values = growing_shop(2, growth=0.30)
    week = 52 + 49
    found = band(values[: week + 1], "week")
    # the band reaches a year's growth over last December's week, not just last year's value
    assert found.low < values[week] < found.high
    assert found.high > values[week - 52] * 1.3


@pytest.mark.parametrize("seed", [7, 10, 11])
def test_an_event_in_last_years_peak_does_not_widen_this_years_band(seed):
    """Two seasons that agree within their noise are one effect measured twice; a week that was a
    spike inside last year's peak is a one-off, not the season: this year's band on that week stays
    about as wide as the week's noise, and a 4.5 SD event on it is found."""
    values = growing_shop(3, seed=seed)
    week, noise = 2 * 52 + 49, 0.03
    values[52 + 49] *= 1 + 5 * noise  # last year's peak week held a 5 SD spike
    history = values[: week + 1][-history_needed("week", {}) :]
    found = band(history, "week")
    assert found.method == "seasonal" and not found.outside(history[-1])
    assert found.scale < 1.5 * noise * history[-1], found
    assert found.outside(history[-1] * (1 + 4.5 * noise))


@pytest.mark.parametrize("offset", PEAK)
@pytest.mark.parametrize("held", [0, 52])
def test_a_peak_week_that_held_a_drop_in_one_earlier_season_is_not_unusual(offset, held):
    """Two seasons, one of which shows no peak on a week where the other's peak ran several weeks
    (a drop that year): a season, or a one-off? The band spans both, so this year's peak is not
    flagged."""
    values = growing_shop(3)
    values[held + offset] /= 1.4  # no peak that week that year
    history = values[: 2 * 52 + offset + 1][-history_needed("week", {}) :]
    found = band(history, "week")
    assert found.method == "seasonal" and not found.outside(history[-1]), found


def test_iso_week_53_maps_to_week_52_and_the_week_after_to_the_same_week_number():
    labels = [f"2025-W{w:02d}" for w in range(1, 53)] + [f"2026-W{w:02d}" for w in range(1, 54)]
    labels += [f"2027-W{w:02d}" for w in range(1, 10)]
    lags = year_lags(labels)
    assert lags[labels.index("2026-W10")] == 52
    assert lags[labels.index("2026-W53")] == 53  # W53 compares with W52 of 2025
    assert lags[labels.index("2027-W01")] == 53  # 2026 had 53 weeks
    assert lags[labels.index("2025-W05")] is None  # no year before in the history


def holiday_shop(years: int, *, seed: int = 3, noise: float = 0.04) -> tuple[list[float], list[str]]:
    """Weekly revenue ending 2026-W53, +25 % in each week holding Easter, Eid al-Fitr, Diwali or
    Nowruz (as the calendar has them), with its ISO week labels."""
    from datetime import date, timedelta

    from kpicore.insights.holidays import week_holidays

    rng = random.Random(seed)
    first = date.fromisocalendar(2027 - years, 1, 1)
    mondays = [first + timedelta(weeks=i) for i in range((date(2026, 12, 28) - first).days // 7 + 1)]
    labels = [f"{m.isocalendar().year}-W{m.isocalendar().week:02d}" for m in mondays]
    values = [100_000 * 1.25 ** len(week_holidays(label)) * math.exp(rng.gauss(0, noise)) for label in labels]
    return values, labels


@pytest.mark.parametrize("years", [2, 3])
@pytest.mark.parametrize(
    "week",
    [
        "2026-W14",  # Easter, two weeks earlier than 2025's (W16)
        "2026-W16",  # the week Easter left
        "2026-W12",  # Eid al-Fitr on Nowruz: both at once
        "2026-W45",  # Diwali, three weeks later than 2025's (W43)
        "2026-W43",  # the week Diwali left
    ],
)
def test_a_moving_holiday_is_compared_with_the_week_that_held_it_a_year_before(years, week):
    from kpicore.insights.holidays import holidays_of

    values, labels = holiday_shop(years)
    at = labels.index(week) + 1
    found = band(values[:at], "week", lags=year_lags(labels[:at]), holidays=holidays_of(labels[:at]))
    assert found.method == "seasonal"
    assert not found.outside(values[at - 1]), (week, found, values[at - 1])


def test_a_spike_on_an_ordinary_week_of_a_holiday_shop_is_still_found():
    from kpicore.insights.holidays import holidays_of

    values, labels = holiday_shop(2)
    at = labels.index("2026-W30")
    values[at] *= 1.3
    found = band(
        values[: at + 1], "week", lags=year_lags(labels[: at + 1]), holidays=holidays_of(labels[: at + 1])
    )
    assert found.outside(values[at])


def test_the_band_is_never_narrower_than_the_week_to_week_noise():
    from kpicore.insights.unusual import noise_floor, plain_band

    rng = random.Random(5)
    noise = [rng.gauss(0, 1) for _ in range(80)]
    # half a year of misses that happen to be small: the same noise, its last 26 weeks shrunk
    values = [100 + (e * 0.5 if i >= 53 else e) for i, e in enumerate(noise)]
    found = plain_band(values)
    assert found.scale >= noise_floor(values[:-1], 52) > 0.6


def test_moving_holidays_of_the_calendar():
    from datetime import date

    from kpicore.insights.holidays import easter, week_holidays

    assert [easter(y) for y in (2024, 2025, 2026)] == [date(2024, 3, 31), date(2025, 4, 20), date(2026, 4, 5)]
    assert week_holidays("2026-W12") == {"eid_al_fitr", "nowruz"}
    assert week_holidays("2025-W43") == {"diwali"}
    assert week_holidays("2026-W30") == frozenset() and week_holidays("2026-11") == frozenset()


def weeks_from(first, count: int) -> list[str]:
    """Labels of ``count`` weeks starting on ``first``'s weekday, as kpicore labels a week that does
    not start on Monday (``week_start = "saturday"``): by its seven days."""
    from datetime import timedelta

    days = [first + timedelta(weeks=i) for i in range(count)]
    return [f"{d.isoformat()}..{(d + timedelta(days=6)).isoformat()}" for d in days]


def test_a_week_labelled_by_its_days_compares_with_the_same_week_a_year_before():
    from datetime import date

    labels = weeks_from(date(2024, 1, 7), 160)  # Sunday weeks: no ISO week numbers
    lags = year_lags(labels)
    # by date: the week of the same dates a year before (one or two days off), never the week before it
    assert lags[labels.index("2025-12-28..2026-01-03")] == 52  # the New Year's week with 2024's
    assert lags[labels.index("2025-12-21..2025-12-27")] == 52  # Christmas with Christmas
    assert labels[labels.index("2025-12-28..2026-01-03") - 52] == "2024-12-29..2025-01-04"
    assert lags[labels.index("2024-06-02..2024-06-08")] is None  # no year before in the history


def test_a_saturday_week_shop_gets_its_seasonal_band_and_its_holidays():
    from datetime import date, timedelta

    from kpicore.insights.holidays import week_holidays
    from kpicore.insights.unusual import band_of_history

    assert week_holidays("2026-04-04..2026-04-10") == {"easter"}  # Easter Sunday, 5 April 2026
    assert week_holidays("2026-03-14..2026-03-20") == {"eid_al_fitr"}
    assert week_holidays("2026-03-21..2026-03-27") == {"nowruz"}
    labels = weeks_from(date(2024, 1, 6), 3 * 52)
    rng = random.Random(4)
    values = []
    for i, label in enumerate(labels):
        first = date.fromisoformat(label[:10])
        level = 100_000 * 1.2 ** (i / 52)
        if first.month == 12 and first.day >= 1 and first + timedelta(days=6) < date(first.year, 12, 29):
            level *= 1.4  # a December peak of four weeks, on its dates every year
        values.append(level * math.exp(rng.gauss(0, 0.03)))
    peak = [i for i, label in enumerate(labels) if label.startswith("2026-12")][:3]
    assert len(peak) == 3
    for at in peak:
        found = band_of_history(values[: at + 1][-history_needed("week", {}) :], labels[: at + 1], "week", {})
        assert found.method == "seasonal" and not found.outside(values[at]), (labels[at], found)
