"""The sums of squares behind a segment's variance (revenue, AOV, NPS by region), computed on Spark in the
breakdown's own query, agree with a plain-Python computation of the same rows."""

from __future__ import annotations

import kpicore_spark
import pytest

from kpicore.compute import compute, select_metrics
from kpicore.config import SourceConfig
from kpicore.connectors import open_source
from kpicore.periods import parse_period
from kpicore.testing import KpiHarness
from tests.test_insights_samples import expected_by_region, shop


def test_the_sums_of_squares_computed_on_spark_agree_with_plain_python(spark_server, spark_data):
    harness = KpiHarness(None)
    harness.register(kpicore_spark)
    registry = harness.registry()
    rows = shop()
    schema = spark_data.database(rows, {name: r.item for name, r in registry.entities.items()}, "timestamp")
    source = open_source(spark_server, SourceConfig(schema=schema), registry)
    try:
        results = compute(
            select_metrics(["revenue", "aov", "nps"], registry),
            parse_period("2026-W47", "UTC"),
            source,
            by="region",
        )
    finally:
        source.close()
    now, before = expected_by_region(rows, 16), expected_by_region(rows, 9)
    for result in results:
        segments = {s.segment: s for s in result.segments}
        assert set(segments) == set(now), result.metric
        for segment, found in segments.items():
            assert found.variance == pytest.approx(now[segment][result.metric], rel=1e-9), (
                result.metric,
                segment,
            )
            assert found.previous_variance == pytest.approx(before[segment][result.metric], rel=1e-9)
