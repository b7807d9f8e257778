"""The install paths the README gives: `make setup` installs only what kpicore runs on, `make test` adds the
test tools, and `make dist` builds wheels of kpicore (typed: it ships py.typed) and every plugin that work on their own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TEST_TOOLS = ("pytest", "hypothesis", "aiosmtpd", "pyarrow", "websockets")


def planned(target: str) -> str:
    """The commands `make TARGET` would run in a fresh checkout (make -n, with a venv that does not exist)."""
    completed = subprocess.run(
        ["make", "-n", "-B", target, "VENV=/nonexistent/venv"], cwd=REPO, capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_make_setup_installs_the_runtime_only_and_make_test_adds_the_test_tools():
    setup = planned("setup")
    installs = [line for line in setup.splitlines() if "pip install" in line and "-e" in line]
    assert installs and all("[test" not in line and ",test" not in line for line in installs), setup
    from importlib.metadata import requires

    runtime = [r for r in requires("kpicore") if "extra ==" not in r]
    assert not any(re.match(rf"{tool}\b", r) for r in runtime for tool in TEST_TOOLS), runtime
    assert "-e '.[test,lint]'" in planned("test")  # the test tools and the linters


def test_make_dist_builds_wheels_that_run_without_the_checkout(tmp_path):
    dist = tmp_path / "dist"
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KPI_LOAD_PLUGINS")}
    completed = subprocess.run(
        ["make", "dist", f"VENV={sys.prefix}", f"DIST={dist}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=environment,
        timeout=900,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    wheels = sorted(path.name.split("-")[0] for path in dist.glob("*.whl"))
    packs = sorted(path.parent.name.replace("-", "_") for path in REPO.glob("plugins/*/pyproject.toml"))
    assert wheels == sorted(["kpicore", *packs])
    # kpicore is typed for the code that uses it (PEP 561): the marker is in the wheel
    (wheel,) = dist.glob("kpicore-*.whl")
    assert "kpicore/py.typed" in zipfile.ZipFile(wheel).namelist()
    # kpicore and a plugin from their wheels alone (their dependencies from this environment): the
    # templates, translations and migrations are in the wheel, and the plugin is found by its entry point
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(site),
            *map(str, dist.glob("kpicore-*.whl")),
            *map(str, dist.glob("kpicore_restaurant-*.whl")),
        ],
        check=True,
        capture_output=True,
    )
    folder = tmp_path / "demo"
    folder.mkdir()
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import kpicore, sys; print(kpicore.__file__); from kpicore.cli import main; "
            "sys.argv[1:] = ['demo', '--pack', 'restaurant', '--locale', 'fa_IR']; main()",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        env={**environment, "PYTHONPATH": str(site)},
        timeout=300,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(str(site)), shown.stdout[:300]
    assert (folder / "digest.html").is_file() and "گردش میز" in shown.stdout, shown.stdout
