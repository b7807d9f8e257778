"""The benchmark runs end to end at a tiny scale and its three computations agree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_benchmark(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """``benchmarks/run.py`` with ``args``, as a user runs it from the checkout."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def test_run_sqlite_agrees(tmp_path):
    results = tmp_path / "results.jsonl"
    completed = run_benchmark(
        "--scale",
        "2000",
        "--source",
        "sqlite",
        "--repeat",
        "1",
        "--baseline-metrics",
        "all",
        "--out",
        str(tmp_path),
        "--results",
        str(results),
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "agreement: all three agree" in completed.stdout
    assert "MISMATCH" not in completed.stderr
    records = [json.loads(line) for line in results.read_text().splitlines()]
    # Both layouts and both cases by default: value and previous alone (plain), and with the trend.
    assert [(record["layout"], record["case"]) for record in records] == [
        ("tidy", "plain"),
        ("tidy", "trend"),
        ("shuffled", "plain"),
        ("shuffled", "trend"),
    ]
    assert [record["trend"] for record in records] == [None, 12, None, 12]
    for record in records:
        assert record["agree"] is True
        assert set(record["results"]) == {"kpicore", "sql", "pandas"}
        assert record["results"]["kpicore"]["rows"] * 10 < record["results"]["pandas"]["rows"]
        assert len(record["baseline_metrics"]) == 15
    assert completed.stdout.count("agreement: all three agree") == 4
    assert completed.stdout.count("agreement: all three agree on value and previous of") == 2
    # The shuffled layout is a new user's untuned file: the same rows in random order, numeric amounts,
    # text times in the space form, indexes on the time columns only.
    import sqlite3

    tidy, shuffled = (
        sqlite3.connect(tmp_path / name) for name in ("bench_2000.db", "bench_2000_shuffled.db")
    )
    try:
        query = "SELECT customer_id, ordered_at, amount FROM orders ORDER BY customer_id, ordered_at, amount"
        assert tidy.execute(query).fetchall() == shuffled.execute(query).fetchall()
        times = [
            row[0] for row in shuffled.execute("SELECT ordered_at FROM orders ORDER BY order_id LIMIT 200")
        ]
        assert times != sorted(times) and all(len(t) == 19 and t[10] == " " for t in times)
        owners = [
            row[0] for row in shuffled.execute("SELECT customer_id FROM orders ORDER BY order_id LIMIT 200")
        ]
        assert owners != sorted(owners, key=lambda c: (c is None, c))
        indexes = {row[0] for row in shuffled.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "ix_orders_ordered_at" in indexes and "ix_orders_customer_id" not in indexes
        (amount_type,) = [
            row[2] for row in shuffled.execute("PRAGMA table_info(orders)") if row[1] == "amount"
        ]
        assert amount_type.lower() == "numeric(12,2)"
        assert "ix_orders_customer_id" in {row[0] for row in tidy.execute("SELECT name FROM sqlite_master")}
    finally:
        tidy.close()
        shuffled.close()


def test_unreachable_postgres_is_one_line_without_the_password(tmp_path):
    completed = run_benchmark(
        "--scale",
        "2000",
        "--source",
        "postgresql",
        "--pg-url",
        "postgresql://postgres:s3cret@127.0.0.1:1/test",
        "--repeat",
        "1",
        "--out",
        str(tmp_path),
        "--results",
        str(tmp_path / "results.jsonl"),
        timeout=120,
    )
    assert completed.returncode == 1
    (line,) = completed.stderr.strip().splitlines()
    assert line.startswith(
        "benchmark: cannot connect to PostgreSQL at postgresql://postgres:***@127.0.0.1:1/test: "
    )
    assert "s3cret" not in completed.stderr
    assert not (tmp_path / "results.jsonl").exists()


def test_run_without_pandas_warm_and_interleaved_compares_kpicore_with_the_floor(tmp_path):
    results = tmp_path / "results.jsonl"
    completed = run_benchmark(
        "--scale",
        "2000",
        "--source",
        "sqlite",
        "--layout",
        "tidy",
        "--case",
        "plain",
        "--repeat",
        "2",
        "--interleave",
        "--skip-pandas",
        "--warm-up",
        "1",
        "--out",
        str(tmp_path),
        "--results",
        str(results),
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "agreement: kpicore and the SQL floor agree on value and previous of" in completed.stdout
    assert "pandas not run" in completed.stdout
    (record,) = [json.loads(line) for line in results.read_text().splitlines()]
    assert set(record["results"]) == {"kpicore", "sql"}
    assert set(record["ratios"]) == {"kpicore_over_floor"}
    # One unmeasured run of each, then the two in turn, one measured run each, twice.
    assert record["warm_up"] == 1 and record["interleave"] is True
    assert [len(record["results"][a]["seconds"]) for a in ("kpicore", "sql")] == [2, 2]
    started = [line.split()[1] for line in completed.stderr.splitlines() if line.startswith("running ")]
    assert started == ["kpicore", "sql", "kpicore", "sql"]
    assert record["agree"] is True


def test_the_incremental_case_runs_on_the_layout_asked_for(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    for layout in ("tidy", "shuffled"):
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "benchmarks" / "generate.py"),
                "--scale",
                "300",
                "--targets",
                "sqlite",
                "--layout",
                layout,
                "--out",
                str(tmp_path),
            ],
            check=True,
            capture_output=True,
            env=env,
            timeout=120,
        )
    results = tmp_path / "results.jsonl"
    common = ["--case", "incremental", "--scale", "300", "--source", "sqlite", "--repeat", "1"]
    common += ["--out", str(tmp_path), "--results", str(results)]
    for layout in (["--layout", "tidy"], []):
        completed = run_benchmark(*common, *layout)
        assert completed.returncode == 0, completed.stdout + completed.stderr
    records = [json.loads(line) for line in results.read_text().splitlines()]
    # --layout tidy reaches the incremental benchmark; without it, its own default (shuffled) stays.
    assert [record["layout"] for record in records] == ["tidy", "shuffled"]
    assert all(record["kind"] == "incremental" and "load_end" in record for record in records)
