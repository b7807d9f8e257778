"""`kpi` as a real process with the Teams plugin loaded, for the tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from kpicore.testing import run_kpi_process

KPI = str(Path(sys.executable).with_name("kpi"))


def kpi_env(**extra: str) -> dict[str, str]:
    """The environment of a `kpi` process with this plugin loaded (``extra``: the webhook URLs)."""
    env = dict(os.environ)
    env.pop("KPI_DEBUG", None)
    env.update(KPI_LOAD_PLUGINS="teams", **extra)
    return env


def run_kpi(folder: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120):
    """`kpi ARGS` in ``folder`` as a real process, with this plugin loaded; the CompletedProcess (text)."""
    return run_kpi_process(folder, *args, env=env or kpi_env(), timeout=timeout)
