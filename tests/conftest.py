"""Shared fixtures. Tests never depend on what is installed: entry-point plugins are off by default."""

from __future__ import annotations

import datetime as dt

import pytest

from kpicore import plugins, registry
from kpicore.demo_data import generate_demo_database

DEMO_TODAY = dt.date(2026, 11, 25)


@pytest.fixture(autouse=True)
def isolated_plugins(monkeypatch):
    """A fresh process-wide plugin manager and registry per test, without installed entry points."""
    monkeypatch.setenv("KPI_LOAD_PLUGINS", "")
    monkeypatch.delenv("KPI_DEBUG", raising=False)
    monkeypatch.setattr(plugins, "_loaded", None)
    monkeypatch.setattr(registry, "_registry", None)


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory):
    """The demo database for a fixed 'today' (2026-11-25), made once per test session."""
    path = tmp_path_factory.mktemp("demo") / "kpi-demo.db"
    generate_demo_database(path, today=DEMO_TODAY)
    return path


@pytest.fixture
def run_kpi(monkeypatch, tmp_path):
    """Run the `kpi` CLI in a temporary working directory; returns (exit_code, stdout, stderr)."""
    from click.testing import CliRunner

    from kpicore.cli import cli

    monkeypatch.chdir(tmp_path)

    def run(*args: str, env: dict | None = None):
        runner = CliRunner()
        result = runner.invoke(cli, list(args), env=env, catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return run
