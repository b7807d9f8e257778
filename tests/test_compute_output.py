"""`kpi compute` output details: JSON numbers without float noise, the dimension and the previous
period of each segment, the trend in CSV, point changes for rates and scores, a breakdown a metric
cannot have."""

from __future__ import annotations

import csv
import io
import json

import pytest

from kpicore.results import JSON_DIGITS, MetricResult, Segment, clean_number


def compute(run_kpi, demo_database, *args):
    code, out, err = run_kpi("compute", *args, "--source", str(demo_database))
    assert code == 0, err
    return out


def numbers(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from numbers(item)
    elif isinstance(value, list):
        for item in value:
            yield from numbers(item)
    elif isinstance(value, float):
        yield value


def test_clean_number_drops_binary_noise_and_keeps_real_digits():
    assert clean_number(33038.82000000004) == 33038.82
    assert clean_number(0.49 - 0.44) == 0.05
    assert clean_number(1234567890.12) == 1234567890.12  # ten digits before the cents survive
    assert clean_number(2 / 3) == 0.666666666667
    assert clean_number(7) == 7 and clean_number(None) is None and clean_number(float("nan")) is None
    result = MetricResult(
        "revenue",
        "Revenue",
        "currency",
        "higher",
        "ok",
        "2026-W47",
        "",
        "",
        value=33038.82000000004,
        previous=30000.1,
    )
    assert result.to_json()["value"] == 33038.82 and result.to_json()["delta"] == 3038.72


def test_json_numbers_carry_no_float_noise(run_kpi, demo_database):
    out = compute(
        run_kpi,
        demo_database,
        "all",
        "--period",
        "2026-11",
        "--by",
        "region",
        "--trend",
        "3",
        "--format",
        "json",
    )
    found = list(numbers(json.loads(out)))
    assert len(found) > 50
    for number in found:
        assert number == float(f"{number:.{JSON_DIGITS}g}"), number
    revenue = next(r for r in json.loads(out) if r["metric"] == "revenue")
    assert revenue["value"] == round(revenue["value"], 2)  # sums of cents come back as cents


def test_segments_name_their_dimension_and_carry_previous_and_delta(run_kpi, demo_database):
    this_week = json.loads(
        compute(
            run_kpi,
            demo_database,
            "nps",
            "revenue",
            "--period",
            "2026-W47",
            "--by",
            "region",
            "--format",
            "json",
        )
    )
    week_before = json.loads(
        compute(
            run_kpi,
            demo_database,
            "nps",
            "revenue",
            "--period",
            "2026-W46",
            "--by",
            "region",
            "--format",
            "json",
        )
    )
    for now, before in zip(this_week, week_before, strict=True):
        assert now["dimension"] == "region"
        earlier = {s["segment"]: s["value"] for s in before["segments"]}
        for segment in now["segments"]:
            assert list(segment) == ["segment", "value", "previous", "delta", "n"]
            assert segment["previous"] == earlier.get(segment["segment"])
            if segment["previous"] is not None and segment["value"] is not None:
                assert segment["delta"] == pytest.approx(segment["value"] - segment["previous"], abs=1e-9)
    without = json.loads(compute(run_kpi, demo_database, "nps", "--period", "2026-W47", "--format", "json"))
    assert without[0]["dimension"] is None and without[0]["segments"] is None


def test_point_units_have_no_relative_change(run_kpi, demo_database):
    results = json.loads(
        compute(
            run_kpi,
            demo_database,
            "nps",
            "churn_rate",
            "csat",
            "revenue",
            "--period",
            "2026-W47",
            "--format",
            "json",
        )
    )
    by_name = {r["metric"]: r for r in results}
    for name in ("nps", "churn_rate", "csat"):
        assert by_name[name]["delta"] is not None and by_name[name]["delta_pct"] is None
    assert by_name["revenue"]["delta_pct"] is not None
    table = compute(run_kpi, demo_database, "nps", "--period", "2026-W47")
    row = next(line for line in table.splitlines() if "Net Promoter" in line)
    assert " pts" in row and "%" not in row.split("pts")[-1]


def test_csv_keeps_the_trend_and_the_segments(run_kpi, demo_database):
    out = compute(
        run_kpi,
        demo_database,
        "nps",
        "--period",
        "2026-W47",
        "--by",
        "region",
        "--trend",
        "4",
        "--format",
        "csv",
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["row"] for r in rows if r["row"] != "segment"] == ["total", "trend", "trend", "trend", "trend"]
    trend = [r for r in rows if r["row"] == "trend"]
    assert [r["period"] for r in trend] == ["2026-W44", "2026-W45", "2026-W46", "2026-W47"]
    total = rows[0]
    assert trend[-1]["value"] == total["value"] and trend[-2]["value"] == total["previous"]
    segments = [r for r in rows if r["row"] == "segment"]
    assert segments and all(r["dimension"] == "region" for r in segments)
    assert any(r["previous"] != "" and r["delta"] != "" for r in segments)
    assert total["delta_pct"] == ""  # points: no relative change


def test_a_metric_that_cannot_be_broken_down_says_so(run_kpi, demo_database):
    table = compute(run_kpi, demo_database, "cac", "--period", "2026-W47", "--by", "plan")
    assert "left out" not in table  # not invalid records: the spend has no plan
    assert "⚠ cac: marketing_spend records have no customer, so they cannot be broken down by plan" in table
    (cac,) = json.loads(
        compute(run_kpi, demo_database, "cac", "--period", "2026-W47", "--by", "plan", "--format", "json")
    )
    assert cac["segments"] is None and cac["value"] is not None
    assert cac["warnings"] == [
        {
            "message": "marketing_spend records have no customer, so they cannot be broken down by plan",
            "count": 0,
        }
    ]


def test_segment_delta_property():
    assert Segment("East", 5.0, 3, previous=2.0).delta == 3.0
    assert Segment("East", 5.0, 3).delta is None
