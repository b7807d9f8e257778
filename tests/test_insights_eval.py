"""The insights evaluation (benchmarks/insights_eval.py) on a small fixed seed set, its targets asserted with
bands wide enough for a seed or two (docs/insights.md has the figures over many): a fast-growing, a
declining and a shifted shop with December peaks and a holiday shop, two and three years of history;
the demo-like series with its churn surge in one region."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def evaluate(*args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "insights_eval.py"), *args, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return json.loads(completed.stdout)


def test_growing_declining_shifted_and_holiday_shops_meet_their_targets():
    report = evaluate(
        "--seeds",
        "2",
        "--only",
        "scenarios",
        "--scenario",
        "growing 30",
        "--scenario",
        "declining",
        "--scenario",
        "level shift",
        "--scenario",
        "moving holidays",
        "--forecast-every",
        "0",
    )
    rows = report["scenarios"]["rows"]
    assert {(row["scenario"], row["years"]) for row in rows} == {
        (name, years)
        for name in (
            "growing 30 %, 6-week peak",
            "declining 15 %, 2-week peak",
            "growing 10 %, 3-week peak, level shift",
            "growing 10 %, moving holidays",
        )
        for years in (2, 3)
    }
    # target 0.5 over many seeds; two seeds hold 8 metric-years, where 0.4 a year can come out as 1
    assert sum(row["false_flags_per_metric_year"] for row in rows) / len(rows) <= 0.6, rows
    for row in rows:
        assert row["events"] >= 12, row
        assert row["false_flags_per_metric_year"] <= 1.0, row
        assert row["precision"] >= 0.65, row  # target 0.8
        # a row holds about 15 events (a recall's spread 0.11): each row loosely, the rows pooled closer
        assert row["recall"] >= 0.45, row
    for seasons, least in ((1, 0.65), (2, 0.72)):  # targets 0.7 and 0.8, over about 60 events each
        pooled = [row for row in rows if row["seasons_before"] == seasons]
        hits = sum(row["recall"] * row["events"] for row in pooled)
        assert hits / sum(row["events"] for row in pooled) >= least, pooled


def test_unusual_change_trend_and_concentration_meet_their_targets():
    report = evaluate("--seeds", "2", "--only", "unusual", "trend", "concentration")
    unusual = report["unusual"]
    assert unusual["events"] >= 30
    # 36 events on two seeds (a recall's spread about 0.07); misses counted at the judged level trade
    # one of them on this business growing 58 % a year for fewer false flags (precision 0.79 -> 0.81)
    assert unusual["recall"] >= 0.75, unusual["recall_by_size"]
    # This demo-like business grows 2.5-fold in two years with a +-15 % yearly swing (faster than the
    # scenarios' 30 % a year): its weekly noise is harder to tell from the trend.
    outside = unusual["without_plain_band_seasonal_peaks"]
    assert outside["precision"] >= 0.7
    assert max(outside["false_flags_per_metric_year"].values()) <= 1.5
    assert unusual["seasonal_peak_flagged"]["seasonal"]["share"] <= 0.3  # the peak is no anomaly
    assert unusual["churn_surge_south"]["events"] == 2 and unusual["churn_surge_south"]["recall"] == 1.0
    trend = report["trend"]
    # No target in the brief for trends: they are held to few false claims (a weekly digest that finds a
    # trend every other week is noise) and still find most ramps.
    assert trend["precision"] >= 0.8 and trend["false_flags_per_metric_year"] <= 1.0
    assert trend["recall"] >= 0.6
    concentration = report["concentration"]
    assert concentration["recall"] == 1.0 and concentration["precision"] == 1.0


def test_the_forecast_interval_covers_about_what_it_says():
    report = evaluate("--seeds", "1", "--only", "forecast")
    assert report["forecast"]["forecasts"] >= 30
    assert 0.65 <= report["forecast"]["coverage_80"] <= 0.95
