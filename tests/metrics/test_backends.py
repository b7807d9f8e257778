"""Every metric on one shared dataset: SQLite, PostgreSQL and a CSV folder give identical results,
which equal the plain-Python reference; trends come from one query per entity."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from kpicore.compute import compute, select_metrics
from kpicore.config import Config
from kpicore.periods import parse_period
from kpicore.testing import KpiHarness, comparable, same_values

from .data import ALL
from .reference import REFERENCE, close, expected

WEEK = "2026-W47"
MARGIN = Config(gross_margin=0.5)


@pytest.mark.parametrize("by", [None, "region"])
def test_every_backend_gives_identical_results(kpi_all_backends, tmp_path, by):
    names = sorted(REFERENCE)
    results = kpi_all_backends.compute(names, WEEK, by=by, trend=3, config=MARGIN, **ALL)
    sqlite = KpiHarness(tmp_path / "sqlite")
    (tmp_path / "sqlite").mkdir()
    try:
        baseline = sqlite.compute(names, WEEK, by=by, trend=3, config=MARGIN, **ALL)
    finally:
        sqlite.close()
    period = parse_period(WEEK, "UTC")
    for name in names:
        got, want = comparable(results[name]), comparable(baseline[name])
        assert same_values(want, got), (
            f"{kpi_all_backends.backend} differs from SQLite on {name}: {got} != {want}"
        )
        reference = expected(name, ALL, period, 0.5)
        assert close(got["value"], reference.value), name
        assert got["n"] == reference.n, name
        invalid = [w[1] for w in got["warnings"] if w[1] and "cannot be broken down" not in w[0]]
        assert sorted(invalid) == reference.warnings, name


def test_trends_for_every_metric_match_each_period_and_queries_do_not_grow_with_the_trend(kpi):
    registry = kpi.registry()
    source = kpi.source(ALL, registry=registry)
    metrics = select_metrics(["all"], registry)
    entities = {e for m in metrics for e in m.entities(MARGIN)}
    for entity in entities:
        source.relation(entity)  # the mapping probes run once per source, before any metric
    statements = []
    sa.event.listen(source.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    period = parse_period(WEEK, "UTC")
    compute(metrics, period, source, config=MARGIN, trend=12)
    with_twelve = len(statements)
    statements.clear()
    results = compute(metrics, period, source, config=MARGIN, trend=4)
    # A few grouped queries per entity (one per time column, plus one for period-dependent filters),
    # however many periods the trend has: never one query per period.
    assert len(statements) == with_twelve
    assert len(entities) <= len(statements) <= 3 * len(entities)
    for result in results:
        assert [p.period for p in result.trend] == ["2026-W44", "2026-W45", "2026-W46", "2026-W47"]
        for point in result.trend:
            want = expected(result.metric, ALL, parse_period(point.period, "UTC"), 0.5).value
            assert close(point.value, want), (result.metric, point.period, point.value, want)


def test_postgresql_naive_timestamps_match_sqlite(tmp_path):
    """PostgreSQL ``timestamp`` (without time zone) columns give the same results as SQLite text."""
    names = sorted(REFERENCE)
    naive = KpiHarness(tmp_path, "postgresql")
    naive.timestamps = "timestamp"
    sqlite = KpiHarness(tmp_path)
    try:
        for tz in ("UTC", "Asia/Tokyo"):
            got = naive.compute(names, WEEK, tz=tz, by="region", config=MARGIN, **ALL)
            want = sqlite.compute(names, WEEK, tz=tz, by="region", config=MARGIN, **ALL)
            for name in names:
                assert same_values(comparable(want[name]), comparable(got[name])), (tz, name)
    finally:
        naive.close()
        sqlite.close()


def test_every_metric_works_without_the_optional_columns(kpi_all_backends):
    """customers.channel and leads.channel are optional: without them every metric still computes
    (cac pairs no channel), on every backend."""
    without_channel = {
        name: [
            {k: v for k, v in row.items() if not (k == "channel" and name in ("customers", "leads"))}
            for row in rows
        ]
        for name, rows in ALL.items()
    }
    names = sorted(REFERENCE)
    results = kpi_all_backends.compute(names, WEEK, config=MARGIN, only_given_columns=True, **without_channel)
    full = kpi_all_backends.compute(names, WEEK, config=MARGIN, **ALL)
    for name in names:
        assert results[name].status == "ok", (name, results[name].reason)
        assert same_values(results[name].value, full[name].value), name


@pytest.mark.parametrize("timestamps", ["timestamptz", "timestamp"])
def test_mysql_matches_postgresql_in_a_business_timezone_with_dst_inside_the_trend(tmp_path, timestamps):
    """America/New_York leaves daylight saving time on 2026-11-01, inside the trend's week 2026-W44:
    MySQL's TIMESTAMP (an instant) and DATETIME (a naive time) give PostgreSQL's timestamptz and
    timestamp numbers, for every metric, with and without a breakdown. The MySQL server has no zone
    tables: kpicore converts the bounds itself."""
    names = sorted(REFERENCE)
    harnesses = {name: KpiHarness(tmp_path, name) for name in ("mysql", "postgresql")}
    for harness in harnesses.values():
        harness.timestamps = timestamps
    try:
        for by in (None, "region"):
            got, want = (
                harnesses[name].compute(
                    names, WEEK, tz="America/New_York", by=by, trend=5, config=MARGIN, **ALL
                )
                for name in ("mysql", "postgresql")
            )
            for name in names:
                assert [p.period for p in got[name].trend][1] == "2026-W44"
                assert same_values(comparable(want[name]), comparable(got[name])), (timestamps, by, name)
    finally:
        for harness in harnesses.values():
            harness.close()
