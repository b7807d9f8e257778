"""Every stock metric on Spark (a real Spark Connect server, ``local[2]``) gives the numbers of SQLite and
PostgreSQL on the shared test dataset: times stored as ``TIMESTAMP``, ``TIMESTAMP_NTZ`` and ISO text, with
and without a breakdown and a trend, in UTC and in America/New_York, whose daylight saving time ends on
2026-11-01, inside the trend's week 2026-W44. Each case is one compute of all the metrics (a few grouped
queries per entity), not a query per metric."""

from __future__ import annotations

import kpicore_spark
import pytest

from kpicore.compute import compute, select_metrics
from kpicore.config import Config, EntityMapping, SourceConfig
from kpicore.connectors import open_source
from kpicore.periods import parse_period
from kpicore.testing import KpiHarness, comparable, same_values
from tests.metrics.data import ALL
from tests.metrics.reference import REFERENCE, close, expected

WEEK = "2026-W47"
MARGIN = Config(gross_margin=0.5)
NAMES = sorted(REFERENCE)
NEW_YORK = "America/New_York"


def _registry():
    harness = KpiHarness(None)
    harness.register(kpicore_spark)
    return harness.registry()


def spark_compute(url, *, tz="UTC", by=None, trend=None, schema=None, paths=None):
    """All the reference metrics computed on the Spark source, by name."""
    registry = _registry()
    entities = {name: EntityMapping(options={"path": path}) for name, path in (paths or {}).items()}
    source = open_source(url, SourceConfig(timezone=tz, schema=schema, entities=entities), registry)
    try:
        results = compute(
            select_metrics(NAMES, registry), parse_period(WEEK, tz), source, config=MARGIN, by=by, trend=trend
        )
    finally:
        source.close()
    return {r.metric: r for r in results}


def baseline(tmp_path, backend="sqlite", timestamps="timestamptz", tz="UTC", **options):
    """The metrics on SQLite or PostgreSQL, the source's timezone (how naive times read) the business one."""
    harness = KpiHarness(tmp_path, backend)
    harness.timestamps = timestamps
    try:
        return harness.compute(
            NAMES,
            WEEK,
            tz=tz,
            config=MARGIN,
            source_config=SourceConfig(base_dir=tmp_path, timezone=tz),
            **options,
            **ALL,
        )
    finally:
        harness.close()


def assertsame_values(got, want, case):
    for name in NAMES:
        assert got[name].status == "ok", (case, name, got[name].reason)
        assert same_values(comparable(want[name]), comparable(got[name])), (
            f"{case}: Spark differs on {name}: {comparable(got[name])} != {comparable(want[name])}"
        )


@pytest.fixture(scope="module")
def registry_entities():
    return {name: r.item for name, r in _registry().entities.items()}


@pytest.fixture(scope="module")
def timestamp_tables(spark_data, registry_entities):
    """The dataset as catalog tables with TIMESTAMP and DATE columns."""
    return spark_data.database(ALL, registry_entities, "timestamp")


@pytest.fixture(scope="module")
def text_tables(spark_data, registry_entities):
    """The dataset as catalog tables with its times as the ISO text SQLite holds."""
    return spark_data.database(ALL, registry_entities, "text")


def test_timestamp_tables_give_sqlite_and_the_reference_values_in_utc(
    spark_server, timestamp_tables, tmp_path
):
    got = spark_compute(spark_server, schema=timestamp_tables)
    assertsame_values(got, baseline(tmp_path), "TIMESTAMP, UTC")
    period = parse_period(WEEK, "UTC")
    for name in NAMES:  # the golden values, worked out by hand in tests/metrics/reference.py
        reference = expected(name, ALL, period, 0.5)
        assert close(got[name].value, reference.value), name
        assert got[name].n == reference.n, name


@pytest.mark.parametrize("by", [None, "region"])
def test_timestamp_tables_with_a_trend_across_dst_give_postgresql(
    spark_server, timestamp_tables, tmp_path, by
):
    """Spark's TIMESTAMP is an instant, like PostgreSQL's timestamptz holding the same values."""
    got = spark_compute(spark_server, schema=timestamp_tables, tz=NEW_YORK, by=by, trend=5)
    want = baseline(tmp_path, "postgresql", tz=NEW_YORK, by=by, trend=5)
    assert [p.period for p in got["revenue"].trend][1] == "2026-W44"
    assertsame_values(got, want, f"TIMESTAMP, {NEW_YORK}, by={by}, trend=5")


def test_timestamp_ntz_parquet_paths_give_postgresql_timestamp(
    spark_server, spark_data, registry_entities, tmp_path
):
    """Naive Parquet times (TIMESTAMP_NTZ in Spark) read as local times of the business timezone, like
    PostgreSQL's ``timestamp`` columns holding the same wall clock; entities mapped by path."""
    paths = spark_data.parquet(ALL, registry_entities, "timestamp_ntz")
    got = spark_compute(spark_server, paths=paths, tz=NEW_YORK, by="region", trend=5)
    want = baseline(tmp_path, "postgresql", "timestamp", tz=NEW_YORK, by="region", trend=5)
    assertsame_values(got, want, f"TIMESTAMP_NTZ paths, {NEW_YORK}, by=region, trend=5")


@pytest.mark.parametrize(("tz", "by", "trend"), [(NEW_YORK, None, 5), ("UTC", "region", None)])
def test_iso_text_tables_give_sqlite(spark_server, text_tables, tmp_path, tz, by, trend):
    got = spark_compute(spark_server, schema=text_tables, tz=tz, by=by, trend=trend)
    assertsame_values(
        got, baseline(tmp_path, tz=tz, by=by, trend=trend), f"text, {tz}, by={by}, trend={trend}"
    )
