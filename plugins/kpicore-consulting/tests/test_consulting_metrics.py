"""Hand-computed cases for the consultancy metrics (period 2026-W47: weekdays Monday 16 to Friday 20 November)."""

import kpicore_consulting
import pytest


def consultant(consultant_id, capacity, started_on=None, left_on=None, practice="Strategy", level="manager"):
    return {
        "consultant_id": consultant_id,
        "capacity_hours_per_week": capacity,
        "started_on": started_on,
        "left_on": left_on,
        "practice": practice,
        "level": level,
    }


def entry(entry_id, consultant_id, worked_on, hours, billable, billed_amount, standard_rate):
    return {
        "entry_id": entry_id,
        "consultant_id": consultant_id,
        "worked_on": worked_on,
        "hours": hours,
        "billable": billable,
        "billed_amount": billed_amount,
        "standard_rate": standard_rate,
    }


CONSULTANTS = [
    consultant(1, 40, "2020-01-01"),  # all 5 weekdays: 40 h
    consultant(2, 40, "2026-11-18", practice="Technology"),  # joined Wednesday: 3 weekdays, 24 h
    consultant(3, 20, None, "2026-11-16"),  # Monday was the last day: 1 weekday, 4 h
    consultant(4, 40, "2019-05-01", "2026-11-13", practice="Technology"),  # left the week before: 0 h
    consultant(5, None, "2020-01-01", practice="Technology"),  # no capacity: invalid
]
TIMESHEETS = [
    entry(1, 1, "2026-11-16", 8, True, 1600.0, 220.0),
    entry(2, 1, "2026-11-17", 2, False, 0.0, 220.0),  # non-billable: in neither part of utilization
    entry(3, 2, "2026-11-18", 6, True, 900.0, 160.0),
    entry(4, 3, "2026-11-16", 4, True, None, 110.0),  # billable but never invoiced
    entry(5, 1, "2026-11-23", 8, True, 1000.0, 220.0),  # the week after
    entry(6, 2, "2026-11-19", -1, True, 0.0, 160.0),  # negative hours: invalid
    entry(7, 2, "2026-11-20", 3, None, 0.0, 160.0),  # billable unknown: invalid
]


@pytest.fixture
def kpi(kpi):
    kpi.register(kpicore_consulting)
    return kpi


def warning_counts(result):
    return sorted(w.count for w in result.warnings)


def test_utilization_counts_only_weekdays_employed(kpi):
    result = kpi.compute("utilization", "2026-W47", consultants=CONSULTANTS, timesheets=TIMESHEETS)
    # billable hours 8 + 6 + 4 over capacity 40 + 24 + 4
    assert result.value == pytest.approx(100 * 18 / 68)
    assert result.n == 3
    assert warning_counts(result) == [1, 2]  # consultant 5; entries 6 and 7


def test_utilization_by_practice_reaches_consultant_dimensions(kpi):
    result = kpi.compute(
        "utilization", "2026-W47", by="practice", consultants=CONSULTANTS, timesheets=TIMESHEETS
    )
    segments = {s.segment: s.value for s in result.segments}
    assert segments["Strategy"] == pytest.approx(100 * 12 / 44)
    assert segments["Technology"] == pytest.approx(100 * 6 / 24)


def test_utilization_of_a_month_with_a_leaver(kpi):
    result = kpi.compute("utilization", "2026-11", consultants=CONSULTANTS[:4], timesheets=TIMESHEETS)
    # November 2026 has 21 weekdays; consultant 2 from the 18th: 9; 3 until the 16th: 11; 4 until the 13th: 10
    capacity = 40 * 21 / 5 + 40 * 9 / 5 + 20 * 11 / 5 + 40 * 10 / 5
    assert result.value == pytest.approx(100 * (8 + 6 + 4 + 8) / capacity)


def test_realization_over_billable_priced_entries(kpi):
    result = kpi.compute("realization", "2026-W47", consultants=CONSULTANTS, timesheets=TIMESHEETS)
    assert result.value == pytest.approx(100 * (1600 + 900) / (8 * 220 + 6 * 160))
    assert result.n == 2
    assert warning_counts(result) == [3]  # entries 4, 6, 7


def test_revenue_per_consultant_counts_consultants_with_hours(kpi):
    result = kpi.compute("revenue_per_consultant", "2026-W47", consultants=CONSULTANTS, timesheets=TIMESHEETS)
    assert result.value == pytest.approx((1600 + 900) / 3)
    assert result.n == 3
    assert warning_counts(result) == [1]


def test_consulting_on_every_backend(kpi_all_backends):
    kpi_all_backends.register(kpicore_consulting)
    results = kpi_all_backends.compute(
        ["utilization", "realization", "revenue_per_consultant"],
        "2026-W47",
        consultants=CONSULTANTS,
        timesheets=TIMESHEETS,
    )
    assert results["utilization"].value == pytest.approx(100 * 18 / 68)
    assert results["realization"].value == pytest.approx(100 * 2500 / 2720)
    assert results["revenue_per_consultant"].value == pytest.approx(2500 / 3)


def test_no_consultants_employed_gives_null(kpi):
    result = kpi.compute("utilization", "2026-W47", consultants=CONSULTANTS[3:4], timesheets=[])
    assert result.value is None


def required_only(row, *optional):
    return {key: value for key, value in row.items() if key not in optional}


@pytest.mark.parametrize("absent", [("started_on", "left_on"), ("started_on",), ("left_on",)])
def test_every_metric_works_with_only_the_required_columns_on_every_backend(kpi_all_backends, absent):
    """started_on and left_on are optional: without them a consultant is employed throughout."""
    kpi_all_backends.register(kpicore_consulting)
    consultants = [required_only(consultant(1, 40), *absent), required_only(consultant(2, 20), *absent)]
    consultants = [{k: v for k, v in c.items() if k != "level"} for c in consultants]
    sheets = [
        entry(1, 1, "2026-11-16", 8, True, 1600.0, 220.0),
        entry(2, 2, "2026-11-17", 4, True, 400.0, 100.0),
    ]
    results = kpi_all_backends.compute(
        ["utilization", "realization", "revenue_per_consultant"],
        "2026-W47",
        consultants=consultants,
        timesheets=sheets,
        only_given_columns=True,
    )
    assert results["utilization"].value == pytest.approx(100 * 12 / 60)
    assert results["realization"].value == pytest.approx(100 * 2000 / (8 * 220 + 4 * 100))
    assert results["revenue_per_consultant"].value == pytest.approx(2000 / 2)
    by_practice = kpi_all_backends.compute(
        ["utilization"],
        "2026-W47",
        by="practice",
        consultants=consultants,
        timesheets=sheets,
        only_given_columns=True,
    )
    assert {s.segment: s.value for s in by_practice["utilization"].segments} == {
        "Strategy": pytest.approx(20.0)
    }


def test_a_trend_with_dates_checked_once_per_row_equals_one_case_per_window(kpi):
    """Over a trend, SQLite checks each date text once per row (a MATERIALIZED CTE) instead of in every
    comparison of every window: the same values as the plain queries, for dates that are not dates, that
    carry a time, or that are missing."""
    from kpicore.compute import plain_queries

    consultants = [
        *CONSULTANTS,
        consultant(6, 30, "2026-02-30"),  # no such day: no valid start
        consultant(7, 35, "2026-11-04 09:00", "2026-11-18T17:00"),  # dates written with a time
        consultant(8, 25, "2026-10-26", "not a date"),
        consultant(9, 10, "", "2026-11-11"),
    ]
    timesheets = [*TIMESHEETS, entry(8, 7, "2026-11-05 10:00", 5, True, 700.0, 150.0)]
    names = ["utilization", "realization", "revenue_per_consultant"]

    def values():
        results = kpi.compute(names, "2026-W47", trend=8, consultants=consultants, timesheets=timesheets)
        return {
            n: (r.value, r.previous, [p.value for p in r.trend], warning_counts(r))
            for n, r in results.items()
        }

    shortcut = values()
    with plain_queries():
        plain = values()
    assert shortcut == plain
    assert len({v for v in shortcut["utilization"][2] if v is not None}) > 2, shortcut  # a real trend
