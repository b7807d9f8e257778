"""Year over year: the period mapping (a pure function, table-driven) and `--compare last-year`."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import pytest

from kpicore.errors import PeriodError
from kpicore.periods import parse_period, year_before

# period -> (label a year before, start, end exclusive); UTC unless the row says otherwise.
TABLE = [
    # weeks: the same ISO week number of the ISO year before
    ("2026-W48", "2025-W48", "2025-11-24", "2025-12-01"),
    ("2026-W01", "2025-W01", "2024-12-30", "2025-01-06"),  # 2025-W01 starts in December 2024
    ("2026-W53", "2025-W52", "2025-12-22", "2025-12-29"),  # 2025 has no W53
    ("2021-W52", "2020-W52", "2020-12-21", "2020-12-28"),  # 2020 has a W53, but W52 maps to W52
    ("2021-W01", "2020-W01", "2019-12-30", "2020-01-06"),
    ("2020-W53", "2019-W52", "2019-12-23", "2019-12-30"),
    # months, including February of a leap year and the one after
    ("2026-11", "2025-11", "2025-11-01", "2025-12-01"),
    ("2024-02", "2023-02", "2023-02-01", "2023-03-01"),
    ("2025-02", "2024-02", "2024-02-01", "2024-03-01"),
    ("2026-01", "2025-01", "2025-01-01", "2025-02-01"),
    # quarters and years
    ("2026-Q1", "2025-Q1", "2025-01-01", "2025-04-01"),
    ("2026-Q4", "2025-Q4", "2025-10-01", "2026-01-01"),
    ("2025-Q1", "2024-Q1", "2024-01-01", "2024-04-01"),  # a leap quarter: 91 days, this one 90
    ("2026", "2025", "2025-01-01", "2026-01-01"),
    # days: the same date; 29 February becomes 28 February
    ("2026-11-23", "2025-11-23", "2025-11-23", "2025-11-24"),
    ("2024-02-29", "2023-02-28", "2023-02-28", "2023-03-01"),
    ("2025-03-01", "2024-03-01", "2024-03-01", "2024-03-02"),
    # ranges keep their dates (not their weekdays); an end on 29 February becomes 28 February
    ("2026-11-01..2026-11-15", "2025-11-01..2025-11-15", "2025-11-01", "2025-11-16"),
    ("2028-02-01..2028-02-29", "2027-02-01..2027-02-28", "2027-02-01", "2027-03-01"),
    ("2028-02-29..2028-03-06", "2027-02-28..2027-03-06", "2027-02-28", "2027-03-07"),
    ("2026-01-01..2026-01-01", "2025-01-01..2025-01-01", "2025-01-01", "2025-01-02"),
    ("2025-12-25..2026-01-07", "2024-12-25..2025-01-07", "2024-12-25", "2025-01-08"),
]


@pytest.mark.parametrize(("text", "label", "start", "end"), TABLE)
def test_year_before(text: str, label: str, start: str, end: str) -> None:
    earlier = year_before(parse_period(text))
    assert (earlier.label, earlier.start.date().isoformat(), earlier.end.date().isoformat()) == (
        label,
        start,
        end,
    )
    assert earlier.kind == parse_period(text).kind
    assert earlier.elapsed is None


def test_a_week_a_year_before_starts_on_monday_in_the_business_timezone() -> None:
    earlier = year_before(parse_period("2026-W13", "Europe/Berlin"))  # 2025-W13: before the DST change
    assert earlier.start.isoformat() == "2025-03-24T00:00:00+01:00"
    assert earlier.end.isoformat() == "2025-03-31T00:00:00+02:00"  # 167 hours: the clocks went forward


@pytest.mark.parametrize(
    ("now", "label", "year_before_label"),
    [
        # Tehran's Saturday weeks: 52 weeks back, the same weekday, the dates one day off
        (datetime(2026, 11, 25, 12, 0), "2026-11-14..2026-11-20", "2025-11-15..2025-11-21"),
        # across 29 February 2028: two days off
        (datetime(2028, 3, 15, 12, 0), "2028-03-04..2028-03-10", "2027-03-06..2027-03-12"),
    ],
)
def test_a_week_labelled_by_its_days_maps_to_the_week_52_weeks_before(now, label, year_before_label) -> None:
    week = parse_period("last-week", "Asia/Tehran", now=now, week_start="saturday")
    earlier = year_before(week)
    assert (week.label, earlier.label, earlier.kind) == (label, year_before_label, "week")
    assert earlier.start.weekday() == week.start.weekday() == 5 and earlier.start.tzinfo == week.start.tzinfo
    assert parse_period(earlier.label, "Asia/Tehran").start == earlier.start  # the label reads back


def test_this_week_labelled_by_its_days_keeps_its_elapsed_span_a_year_before() -> None:
    now = datetime(2026, 11, 25, 12, 0)  # a Wednesday: 4 days 12 hours into Tehran's week
    week = parse_period("this-week", "Asia/Tehran", now=now, week_start="saturday")
    earlier = year_before(week)
    assert earlier.label == "2025-11-22..2025-11-28" and earlier.elapsed == week.elapsed
    assert earlier.end.replace(tzinfo=None) == datetime(2025, 11, 26, 12, 0)


@pytest.mark.parametrize(
    ("form", "now", "label", "end"),
    [
        # this-week on Wednesday 10:30: the same 2 days 10.5 hours of the same ISO week a year before
        ("this-week", datetime(2026, 12, 2, 10, 30), "2025-W49", "2025-12-03T10:30:00+00:00"),
        # this-month on 29 February: cut at the end of a 28-day February
        ("this-month", datetime(2028, 2, 29, 12, 0), "2027-02", "2027-03-01T00:00:00+00:00"),
        ("today", datetime(2026, 12, 2, 9, 15), "2025-12-02", "2025-12-02T09:15:00+00:00"),
        ("last-7-days", datetime(2026, 12, 2, 9, 15), "2025-11-25..2025-12-01", "2025-12-02T00:00:00+00:00"),
    ],
)
def test_to_date_periods_keep_their_elapsed_span(form: str, now: datetime, label: str, end: str) -> None:
    period = parse_period(form, now=now)
    earlier = year_before(period)
    assert (earlier.label, earlier.end.isoformat()) == (label, end)
    assert earlier.elapsed == period.elapsed


def test_the_year_before_the_first_supported_year_is_a_period_error() -> None:
    with pytest.raises(PeriodError, match="out of range"):
        year_before(parse_period("1000-W10"))


# -- kpi compute --compare last-year, on the demo database (two years ending 2026-11-24) -------------------


@pytest.fixture
def demo_config(tmp_path, demo_database):
    (tmp_path / "kpi.toml").write_text(f'[source]\nurl = "{demo_database}"\n', encoding="utf-8")


def _json(run_kpi, *args):
    code, out, err = run_kpi("compute", *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_compare_last_year_is_the_value_of_the_same_iso_week_a_year_before(run_kpi, demo_config):
    compared = _json(run_kpi, "revenue", "nps", "--period", "2026-W47", "--compare", "last-year")
    plain = _json(run_kpi, "revenue", "nps", "--period", "2026-W47")
    year_ago = _json(run_kpi, "revenue", "nps", "--period", "2025-W47")
    for with_compare, without, then in zip(compared, plain, year_ago, strict=True):
        assert {k: v for k, v in with_compare.items() if k != "compare"} == without  # previous unchanged
        comparison = with_compare["compare"]
        assert (comparison["period"], comparison["start"], comparison["end"]) == (
            "2025-W47",
            "2025-11-17T00:00:00+00:00",
            "2025-11-24T00:00:00+00:00",
        )
        assert comparison["value"] == then["value"] is not None
        assert comparison["delta"] == pytest.approx(without["value"] - then["value"])
        assert "reason" not in comparison
    revenue, nps = compared
    assert revenue["compare"]["delta_pct"] == pytest.approx(
        100 * (revenue["value"] - revenue["compare"]["value"]) / revenue["compare"]["value"]
    )
    assert nps["compare"]["delta_pct"] is None  # points: the change is the delta
    assert "compare" not in _json(run_kpi, "revenue", "--period", "2026-W47")[0]


@pytest.mark.parametrize(
    ("period", "year_ago", "reason"),
    [
        ("2025-W47", "2024-W47", "no data for 2024-W47, a year before"),  # before the first record
        # the first record is on the Monday of 2024-W48: nothing before it shows the week is whole
        ("2025-W48", "2024-W48", "the data starts inside 2024-W48, a year before, so it has no whole value"),
    ],
)
def test_no_data_a_year_back_gives_null_and_says_so(run_kpi, demo_config, period, year_ago, reason):
    (revenue,) = _json(run_kpi, "revenue", "--period", period, "--compare", "last-year")
    assert revenue["value"] is not None
    assert revenue["compare"]["value"] is None and revenue["compare"]["delta"] is None
    assert revenue["compare"]["delta_pct"] is None
    assert revenue["compare"]["reason"] == reason
    code, out, err = run_kpi("compute", "revenue", "--period", period, "--compare", "last-year")
    assert code == 0, err
    assert f"revenue: no data a year back ({year_ago}) to compare with" in " ".join(out.split())


def test_compare_by_segment(run_kpi, demo_config):
    (churn,) = _json(run_kpi, "churn_rate", "--period", "2026-11", "--by", "region", "--compare", "last-year")
    (then,) = _json(run_kpi, "churn_rate", "--period", "2025-11", "--by", "region")
    year_ago = {s["segment"]: s["value"] for s in then["segments"]}
    assert {s["segment"]: s["compare"] for s in churn["segments"]} == year_ago
    assert churn["compare"]["value"] == then["value"]


def test_compare_in_the_table_and_csv(run_kpi, demo_config):
    code, out, err = run_kpi(
        "compute", "revenue", "--period", "2026-W47", "--compare", "last-year", "--by", "region", "--wide"
    )
    assert code == 0, err
    assert "Year before (2025-W47)" in out and "vs year before" in out
    (by_region,) = _json(run_kpi, "revenue", "--period", "2025-W47", "--by", "region")
    from kpicore.presentation.formatting import format_value

    for segment in by_region["segments"]:  # each region's row shows its own value a year before
        assert format_value(segment["value"], "currency", "en", "USD") in out
    code, out, err = run_kpi(
        "compute",
        "revenue",
        "--period",
        "2026-W47",
        "--compare",
        "last-year",
        "--by",
        "region",
        "--format",
        "csv",
    )
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    (revenue,) = _json(run_kpi, "revenue", "--period", "2026-W47", "--compare", "last-year", "--by", "region")
    total = rows[0]
    assert (total["row"], total["compare_period"]) == ("total", "2025-W47")
    assert float(total["compare_value"]) == revenue["compare"]["value"]
    assert float(total["compare_delta"]) == revenue["compare"]["delta"]
    segments = {r["segment"]: r for r in rows if r["row"] == "segment"}
    for segment in revenue["segments"]:
        assert float(segments[segment["segment"]]["compare_value"]) == segment["compare"]
    code, out, err = run_kpi("compute", "revenue", "--period", "2026-W47", "--format", "csv")
    assert "compare_period" not in out.splitlines()[0]


def test_compare_refuses_an_unknown_comparison(run_kpi, demo_config):
    code, _out, err = run_kpi("compute", "revenue", "--compare", "last-decade")
    assert code == 2 and "last-decade" in err
