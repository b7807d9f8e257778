"""End to end: `kpi new-plugin`, a fresh virtual environment, pip install, its own tests, kpi metrics/compute.

The environment is created without system site packages; kpicore is installed from this checkout with
`pip install -e`. Measured: about 15 s for the venv and install (pip resolves kpicore's dependencies
from the configured index and wheel cache), under 20 s in all, so it runs with the rest of the suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    completed = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert completed.returncode == 0, f"{' '.join(command)} failed:\n{completed.stdout}\n{completed.stderr}"
    return completed.stdout


def test_scaffolded_plugin_installs_and_computes_in_a_fresh_environment(tmp_path):
    environment = {
        k: v for k, v in os.environ.items() if k not in ("KPI_LOAD_PLUGINS", "PYTHONPATH", "VIRTUAL_ENV")
    }
    steps = {}

    started = time.monotonic()
    run(
        [sys.executable, "-c", "from kpicore.cli import main; main()", "new-plugin", "bakery"],
        tmp_path,
        {**environment, "PYTHONPATH": str(REPO)},
    )
    plugin = tmp_path / "kpicore-bakery"
    assert (plugin / "pyproject.toml").is_file()
    steps["new-plugin"] = time.monotonic() - started

    started = time.monotonic()
    venv.create(tmp_path / "venv", with_pip=True)
    bin_dir = tmp_path / "venv" / ("Scripts" if os.name == "nt" else "bin")
    run(
        [str(bin_dir / "python"), "-m", "pip", "install", "-q", "-e", str(REPO), "-e", f"{plugin}[test]"],
        tmp_path,
        environment,
    )
    steps["venv + pip install"] = time.monotonic() - started

    started = time.monotonic()
    output = run(
        [str(bin_dir / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"], plugin, environment
    )
    assert "2 passed" in output
    steps["plugin's own tests"] = time.monotonic() - started

    started = time.monotonic()
    work = tmp_path / "work"
    work.mkdir()
    kpi = str(bin_dir / "kpi")
    run([kpi, "demo"], work, environment)
    listed = json.loads(run([kpi, "metrics", "--json"], work, environment))
    assert {"name": "bakery_refund_rate", "plugin": "bakery"}.items() <= next(
        row for row in listed if row["name"] == "bakery_refund_rate"
    ).items()
    computed = json.loads(run([kpi, "compute", "bakery_refund_rate", "--format", "json"], work, environment))
    assert computed[0]["status"] == "ok"
    assert 0 < computed[0]["value"] < 20  # the demo data refunds a few percent of orders
    steps["kpi demo, metrics, compute"] = time.monotonic() - started
    print("timings:", {step: round(seconds, 1) for step, seconds in steps.items()})
