"""The benchmark runs end to end at a tiny scale and its three computations agree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent



def test_run_sqlite_agrees(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    results = tmp_path / "results.jsonl"
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--scale", "2000", "--source", "sqlite",
         "--repeat", "1", "--baseline-metrics", "all", "--out", str(tmp_path), "--results", str(results)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "agreement: all three agree" in completed.stdout
    assert "MISMATCH" not in completed.stderr
    record = json.loads(results.read_text().splitlines()[-1])
    assert record["agree"] is True
    assert set(record["results"]) == {"kpicore", "sql", "pandas"}
    assert record["results"]["kpicore"]["rows"] * 10 < record["results"]["pandas"]["rows"]
    assert len(record["baseline_metrics"]) == 15


def test_unreachable_postgres_is_one_line_without_the_password(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    completed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--scale", "2000", "--source", "postgresql",
         "--pg-url", "postgresql://postgres:s3cret@127.0.0.1:1/test", "--repeat", "1",
         "--out", str(tmp_path), "--results", str(tmp_path / "results.jsonl")],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert completed.returncode == 1
    (line,) = completed.stderr.strip().splitlines()
    assert line.startswith("benchmark: cannot connect to PostgreSQL at postgresql://postgres:***@127.0.0.1:1/test: ")
    assert "s3cret" not in completed.stderr
    assert not (tmp_path / "results.jsonl").exists()
