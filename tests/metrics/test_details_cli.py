"""``kpi metrics --details METRIC`` on the demo database, for every stock metric; ``kpi compute all --by``."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from click.testing import CliRunner

from kpicore.cli import cli
from kpicore.demo_data import generate_demo_database

from .reference import REFERENCE


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    path = folder / "kpi-demo.db"
    generate_demo_database(path, today=dt.date(2026, 11, 25), customers=300)
    return path


@pytest.fixture
def run(demo_database, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no kpi.toml here: defaults, and the state database lands in tmp_path
    monkeypatch.setenv("KPI_LOAD_PLUGINS", "")

    def invoke(*args):
        result = CliRunner().invoke(cli, [*args, "--source", str(demo_database)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    return invoke


def test_every_stock_metric_is_listed(run):
    listed = {row["name"] for row in json.loads(run("metrics", "--json"))}
    assert set(REFERENCE) <= listed


def one_line(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("metric", sorted(REFERENCE))
def test_details_show_definition_columns_rules_and_sql(run, metric, demo_database):
    from kpicore.compute import columns_read, preview_sql
    from kpicore.config import SourceConfig
    from kpicore.connectors import open_source
    from kpicore.periods import parse_period
    from kpicore.plugins import new_plugin_manager
    from kpicore.registry import build_registry

    registry = build_registry(new_plugin_manager(load_entry_points=False))
    chosen = registry.metric(metric)
    output = run("metrics", "--details", metric, "--period", "2026-W47")
    lines = output.splitlines()
    assert lines[0] == f"{metric}: {chosen.title}"
    assert f"  definition: {chosen.description}" in lines
    assert f"  entities: {', '.join(chosen.entities())}" in lines
    assert [line for line in lines if line.startswith("  rule: ")] == [
        f"  rule: {rule}" for rule in chosen.rules
    ]
    source = open_source(str(demo_database), SourceConfig(), registry)
    try:
        period = parse_period("2026-W47")
        reads = columns_read(chosen, source, period)
        expected_sql = preview_sql(chosen, source, period)
    finally:
        source.close()
    shown_reads = [line.split(": ", 1) for line in lines if line.startswith("  reads ")]
    assert [(name.split()[1], columns.split(", ")) for name, columns in shown_reads] == list(reads.items())
    # The SQL is the engine's, laid out on several lines (no 4 KB line), token for token the same.
    sql_part = output.split("SQL for 2026-W47 and the period before, on ", 1)[1].split(":\n", 1)[1]
    statements = [part for part in sql_part.split(";\n") if part.strip()]
    assert [one_line(s) for s in statements] == [one_line(s) for s in expected_sql]
    assert max(len(line) for line in sql_part.splitlines()) <= 400
    assert all(statement.count("\n") >= 3 for statement in statements)


def test_details_name_the_columns_read(run):
    output = run("metrics", "--details", "fcr", "--period", "2026-W47")
    assert "  reads tickets: contacts, resolved_at\n" in output
    output = run("metrics", "--details", "repeat_purchase_rate", "--period", "2026-W47")
    assert "  reads customer_orders (derived): first_purchase_at, second_purchase_at\n" in output
    # the derived relation, built in bucket space: per customer, one sort of the orders on SQLite
    assert one_line("GROUP BY customer_order_rows.customer_id) AS customer_order_counts") in one_line(output)


def test_compute_all_by_region_on_the_demo_data(run):
    results = json.loads(run("compute", "all", "--period", "2026-W47", "--by", "region", "--format", "json"))
    by_name = {r["metric"]: r for r in results}
    assert set(REFERENCE) <= set(by_name)
    for name in REFERENCE:
        result = by_name[name]
        assert result["status"] == "ok", result
        if name in ("cac", "conversion_rate"):  # spend and leads reach no customer
            assert result["segments"] is None
            assert any("cannot be broken down by region" in w["message"] for w in result["warnings"])
        else:
            names = {s["segment"] for s in result["segments"]}
            assert len(names) >= 3 and names <= {"North", "South", "East", "West", "(none)"}, (name, names)
