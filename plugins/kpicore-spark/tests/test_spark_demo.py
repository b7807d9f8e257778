"""The demo data as a new user would try it on Spark: `kpi demo`'s database written as Parquet by
`kpi spark parquet`, mapped by path in kpi.toml, and `kpi compute all` on a Spark Connect server gives the
SQLite numbers (every metric, a breakdown and a trend)."""

from __future__ import annotations

import datetime as dt
import json

from test_spark_errors import kpi

from kpicore.demo_data import generate_demo_database


def test_kpi_compute_all_on_the_demo_parquet_gives_the_sqlite_numbers(spark_server, tmp_path):
    sqlite_dir, spark_dir = tmp_path / "sqlite", tmp_path / "spark"
    sqlite_dir.mkdir()
    spark_dir.mkdir()
    database = sqlite_dir / "kpi-demo.db"
    generate_demo_database(database, today=dt.date(2026, 11, 25))
    code, out, err = kpi(
        "spark", "parquet", str(spark_dir / "parquet"), "--from", str(database), cwd=spark_dir
    )
    assert code == 0, out + err
    mapping = "\n".join(line for line in out.splitlines() if not line.startswith("#"))
    assert 'path = "' in mapping and "[entities.orders]" in mapping, out
    arguments = [
        "compute",
        "all",
        "--period",
        "2026-W47",
        "--by",
        "region",
        "--trend",
        "4",
        "--format",
        "json",
    ]
    code, spark_out, err = kpi(*arguments, "--source", spark_server, cwd=spark_dir, toml=mapping)
    assert code == 0, spark_out + err
    code, sqlite_out, err = kpi(*arguments, "--source", str(database), cwd=sqlite_dir)
    assert code == 0, sqlite_out + err
    spark, sqlite = json.loads(spark_out), json.loads(sqlite_out)
    assert len(spark) == len(sqlite) >= 15
    assert all(result["status"] == "ok" for result in spark), [r for r in spark if r["status"] != "ok"]
    assert spark == sqlite
