"""The parts of the plugin that need no server: literals, URLs, redaction, the read-only adapter."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import kpicore_spark
import pytest
from kpicore_spark import connector, dbapi

from kpicore.config import parse_config
from kpicore.connectors import open_source, redact
from kpicore.errors import ConfigError
from kpicore.testing import KpiHarness


def test_bounds_are_literals_with_their_offset():
    berlin = dt.datetime(2026, 11, 16, 0, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert dbapi.literal(berlin) == "TIMESTAMP '2026-11-16 00:00:00.000000+01:00'"
    assert dbapi.literal(berlin.replace(tzinfo=None)) == "TIMESTAMP_NTZ '2026-11-16 00:00:00.000000'"
    assert dbapi.literal(dt.date(2026, 11, 16)) == "DATE '2026-11-16'"
    assert dbapi.literal("it's a \\ test") == "'it\\'s a \\\\ test'"
    assert dbapi.literal(0.5) == "CAST(0.5 AS DOUBLE)"
    assert dbapi.literal(True) == "true" and dbapi.literal(None) == "NULL"
    assert dbapi.render("SELECT %(a)s, '100%%'", {"a": 1}) == "SELECT 1, '100%'"


def test_the_adapter_only_reads():
    cursor = dbapi.Connection(session=None).cursor()
    with pytest.raises(dbapi.NotSupportedError, match="read-only"):
        cursor.execute("DROP TABLE orders")


def test_urls_and_the_token():
    spark = connector.SparkConnector()
    assert spark.handles("sc://localhost:15002") and spark.handles("spark-local://?cores=2")
    assert not spark.handles("spark://master:7077") and not spark.handles("postgresql://h/db")
    url = "sc://cluster.example:443/;use_ssl=true;token=abc123;user_id=ana"
    assert connector.redact(url) == "sc://cluster.example:443/;use_ssl=true;token=***;user_id=ana"
    assert redact(url) == "sc://cluster.example:443/;use_ssl=true;token=***;user_id=ana"  # kpicore's own
    assert connector.scrub("failed for token abc123", url) == "failed for token ***"


def test_a_path_key_needs_the_plugin_and_a_source_that_reads_it(tmp_path):
    config = parse_config({"entities": {"orders": {"path": "/data/orders/"}}})
    assert config.source.entities["orders"].options == {"path": "/data/orders/"}
    with pytest.raises(ConfigError, match="did you mean 'table'"):
        parse_config({"entities": {"orders": {"tabel": "x"}}})
    without = KpiHarness(tmp_path)
    with pytest.raises(ConfigError, match=r"\[entities.orders\]: unknown key 'path'"):
        open_source(str(tmp_path / "x.db"), config.source, without.registry())
    with_spark = KpiHarness(tmp_path)
    with_spark.register(kpicore_spark)
    source = with_spark.source({"orders": []}, source_config=config.source)  # a SQLite file
    from kpicore.errors import MappingError

    with pytest.raises(MappingError, match="does not read 'path'"):
        source.relation("orders")
