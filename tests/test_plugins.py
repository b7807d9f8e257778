"""The plugin system: in-process registration, duplicates, the allow-list, load failures."""

from __future__ import annotations

import sys
import textwrap

import pytest

from kpicore import Measure, Metric, PluginError, hookimpl
from kpicore.plugins import DEFAULT_PLUGINS, new_plugin_manager
from kpicore.registry import build_registry


class Refunds(Metric):
    name = "refunds"
    title = "Refunds"
    description = "Sum of negative order amounts in the period."
    unit = "currency"
    better = "lower"
    entity = "orders"
    time = "ordered_at"
    measures = {"refunds": Measure.sum("amount", where=lambda t: t.amount < 0)}

    def value(self, m):
        return -m.refunds


class RefundsPlugin:
    @hookimpl
    def register_metrics(self, register):
        register(Refunds())


class DuplicateNpsPlugin:
    @hookimpl
    def register_metrics(self, register):
        class MyNps(Refunds):
            name = "nps"

        register(MyNps())


class BadUnitPlugin:
    @hookimpl
    def register_metrics(self, register):
        class Bad(Refunds):
            name = "bad_unit"
            unit = "furlongs"

        register(Bad())


@pytest.fixture
def manager():
    loaded = new_plugin_manager(load_entry_points=False)
    yield loaded
    for plugin in list(loaded.manager.get_plugins()):
        loaded.manager.unregister(plugin)


def test_builtins_are_plugins_registered_through_the_hooks(manager):
    names = [name for name, _ in manager.manager.list_name_plugin()]
    assert names == list(DEFAULT_PLUGINS)
    registry = build_registry(manager, strict=True)
    assert registry.provider("metrics", "nps") == "kpicore.metrics.surveys"
    assert registry.provider("entities", "orders") == "kpicore.model_plugin"
    assert set(registry.connectors) == {"files", "sql"}


def test_third_party_connector_takes_over_a_scheme(manager, tmp_path):
    from kpicore.config import SourceConfig
    from kpicore.connectors import Connector, open_source

    class Taken(Exception):
        pass

    class MySQLite(Connector):
        name = "my-sqlite"

        def handles(self, url):
            return url.startswith("sqlite://")

        def open(self, url, config, entities):
            raise Taken(url)

    class Plugin:
        @hookimpl
        def register_connectors(self, register):
            register(MySQLite())

    manager.manager.register(Plugin(), name="my-connector")
    registry = build_registry(manager, strict=True)
    assert next(iter(registry.connectors)) == "my-sqlite"
    with pytest.raises(Taken):
        open_source("sqlite:///shop.db", SourceConfig(base_dir=tmp_path), registry)


def test_in_process_plugin_metric_is_registered_and_computes(manager, kpi):
    manager.manager.register(RefundsPlugin(), name="refunds-plugin")
    registry = build_registry(manager, strict=True)
    assert registry.provider("metrics", "refunds") == "refunds-plugin"
    kpi.register(RefundsPlugin())
    result = kpi.compute(
        "refunds",
        "2026-W47",
        orders=[
            {"order_id": 1, "customer_id": 1, "ordered_at": "2026-11-16 10:00:00", "amount": 50.0},
            {"order_id": 2, "customer_id": 1, "ordered_at": "2026-11-17 10:00:00", "amount": -20.0},
            {"order_id": 3, "customer_id": 1, "ordered_at": "2026-11-23 00:00:00", "amount": -5.0},
        ],
    )
    assert result.value == 20.0


def test_duplicate_metric_name_is_an_error_naming_both_plugins(manager, monkeypatch, run_kpi, demo_database):
    manager.manager.register(DuplicateNpsPlugin(), name="acme-kpis")
    with pytest.raises(PluginError) as error:
        build_registry(manager, strict=True)
    message = str(error.value)
    assert "metric 'nps' is registered twice: by acme-kpis and by kpicore.metrics.surveys" in message
    assert "override=True" in message
    # Non-strict (what `kpi plugins` and `kpi check` show): the built-in stays, the duplicate is a conflict,
    # and the registry refuses to start with it.
    registry = build_registry(manager)
    assert registry.provider("metrics", "nps") == "kpicore.metrics.surveys"
    assert (
        registry.conflicts == [p for p in registry.problems if "registered twice" in p] and registry.conflicts
    )
    with pytest.raises(PluginError, match="metric 'nps' is registered twice"):
        registry.raise_conflicts()
    # Every command stops at start-up, naming both plugins (exit 2).
    from kpicore import registry as registry_module

    monkeypatch.setattr(registry_module, "_registry", registry)
    code, _, err = run_kpi("compute", "nps", "--source", str(demo_database))
    assert code == 2
    assert err.startswith(
        "Error: metric 'nps' is registered twice: by acme-kpis and by kpicore.metrics.surveys"
    )


def test_duplicate_of_any_kind_is_a_conflict(manager):
    from kpicore import Entity
    from kpicore.model import ORDERS

    class Twice:
        @hookimpl
        def register_entities(self, register):
            register(Entity("orders", ORDERS.columns))

        @hookimpl
        def register_channels(self, register):
            register(type("Mail", (), {"scheme": "email"})())

    manager.manager.register(Twice(), name="twice")
    registry = build_registry(manager)
    assert len(registry.conflicts) == 2
    assert registry.provider("entities", "orders") == "kpicore.model_plugin"
    assert any(
        "channel 'email' is registered twice: by twice and by kpicore.channels" in c
        for c in registry.conflicts
    )


def test_a_deliberate_override_replaces_the_builtin_whatever_the_load_order(manager):
    class OverridingNps:
        @hookimpl(trylast=True)  # called after the built-in: the override still wins
        def register_metrics(self, register):
            class AcmeNps(Refunds):
                name = "nps"

            register(AcmeNps(), override=True)

    manager.manager.register(OverridingNps(), name="acme-kpis")
    registry = build_registry(manager, strict=True)
    assert registry.provider("metrics", "nps") == "acme-kpis"
    assert registry.metrics["nps"].replaces == "kpicore.metrics.surveys"
    assert registry.problems == [] and registry.conflicts == []
    assert type(registry.metric("nps")).__name__ == "AcmeNps"


def test_invalid_metric_is_rejected_and_others_keep_working(manager):
    manager.manager.register(BadUnitPlugin(), name="bad-plugin")
    registry = build_registry(manager)
    assert "bad_unit" not in registry.metrics
    assert "nps" in registry.metrics
    assert registry.problems == [
        (
            "plugin bad-plugin: invalid metric: metric 'bad_unit' has unknown unit 'furlongs' "
            "(use one of count, currency, percent, points, minutes, ratio)"
        )
    ]


@pytest.fixture
def installed_plugins(tmp_path, monkeypatch):
    """Two entry-point plugins in a throw-away distribution on sys.path: one good, one that fails to import."""
    site = tmp_path / "site"
    (site / "good_kpis").mkdir(parents=True)
    (site / "good_kpis" / "__init__.py").write_text(
        textwrap.dedent("""
        from kpicore import Measure, Metric, hookimpl

        class Orders(Metric):
            name = "order_count"
            title = "Orders"
            description = "Orders in the period."
            entity = "orders"
            time = "ordered_at"
            measures = {"orders": Measure.count()}

            def value(self, m):
                return m.orders

        @hookimpl
        def register_metrics(register):
            register(Orders())
    """)
    )
    (site / "broken_kpis.py").write_text("raise ImportError('missing dependency frobnicate')\n")
    info = site / "kpi_test_plugins-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kpi-test-plugins\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text("[kpicore]\ngood = good_kpis\nbroken = broken_kpis\n")
    monkeypatch.syspath_prepend(str(site))
    yield
    for module in ("good_kpis", "broken_kpis"):
        sys.modules.pop(module, None)


def test_entry_points_load_with_versions_and_failures_are_reported(installed_plugins, monkeypatch):
    monkeypatch.delenv("KPI_LOAD_PLUGINS")
    loaded = new_plugin_manager()
    registry = build_registry(loaded)
    assert registry.provider("metrics", "order_count") == "good"
    from kpicore.plugins import plugin_version

    assert plugin_version(loaded.manager, loaded.manager.get_plugin("good")) == "1.2.3"
    assert [f.name for f in loaded.failures] == ["broken"]
    assert registry.problems == ["plugin broken failed to load: ImportError: missing dependency frobnicate"]


def test_allow_list_loads_only_named_entry_points(installed_plugins, monkeypatch):
    monkeypatch.setenv("KPI_LOAD_PLUGINS", "good")
    loaded = new_plugin_manager()
    assert loaded.manager.get_plugin("good") is not None
    assert loaded.manager.get_plugin("broken") is None and loaded.failures == []
    monkeypatch.setenv("KPI_LOAD_PLUGINS", "")
    loaded = new_plugin_manager()
    assert [name for name, _ in loaded.manager.list_name_plugin()] == list(DEFAULT_PLUGINS)
    monkeypatch.setenv("KPI_LOAD_PLUGINS", "good,godo")
    loaded = new_plugin_manager()
    assert loaded.manager.get_plugin("good") is not None
    (failure,) = loaded.failures
    assert failure.name == "godo"
    assert failure.reason.startswith(
        "KPI_LOAD_PLUGINS names it, but no such plugin is installed (installed: "
    )
    assert "good" in failure.reason and "broken" in failure.reason


def test_kpi_plugins_and_check_report_broken_plugin(installed_plugins, monkeypatch, run_kpi, demo_database):
    monkeypatch.setenv("KPI_LOAD_PLUGINS", "good,broken")
    code, out, _ = run_kpi("plugins")
    assert code == 0
    assert "kpi-test-plugins 1.2.3 (entry point good)\n    metrics: order_count" in out
    assert "PROBLEM: plugin broken failed to load: ImportError: missing dependency frobnicate" in out
    code, out, err = run_kpi("check", "--source", str(demo_database))
    assert code == 2
    assert "plugin broken failed to load" in err
    code, out, err = run_kpi(
        "compute", "order_count", "--period", "2026-W47", "--source", str(demo_database), "--format", "json"
    )
    assert code == 0 and "plugin broken failed to load" in err
