"""Every hook, exercised by an in-process plugin on a fresh plugin manager (no installed plugin matters)."""

from __future__ import annotations

import sqlite3
from importlib import metadata
from types import SimpleNamespace

import click
import pytest
from click.testing import CliRunner

from kpicore import Column, Entity, Measure, Metric, hookimpl
from kpicore import registry as registry_module
from kpicore.cli import cli
from kpicore.plugins import new_plugin_manager
from kpicore.registry import build_registry


class Visits(Metric):
    name = "visits"
    title = "Visits"
    description = "Shop visits in the period."
    unit = "count"
    entity = "visits"
    time = "visited_at"
    measures = {"visits": Measure.count()}

    def value(self, m):
        return m.visits


SHOPS = Entity("shops", (Column("shop_id", "id"),), customer_key=None, has_dimensions=True)
VISITS = Entity(
    "visits", (Column("visit_id", "id"), Column("shop_id", "id"), Column("visited_at", "timestamp")),
    customer_key=None, dimensions_from=("shops", "shop_id"),
)


class ShopPlugin:
    """Declares two entities and a metric, as a pack would."""

    @hookimpl
    def register_entities(self, register):
        register(SHOPS)
        register(VISITS)

    @hookimpl
    def register_metrics(self, register):
        register(Visits())


def registry_with(*plugins, load_entry_points=False):
    loaded = new_plugin_manager(load_entry_points=load_entry_points)
    for index, plugin in enumerate(plugins):
        loaded.manager.register(plugin, name=getattr(plugin, "plugin_name", f"test-plugin-{index}"))
    return build_registry(loaded)


@pytest.fixture
def use_registry(monkeypatch):
    """Make the CLI use a registry built from the given in-process plugins."""

    def install(*plugins, load_entry_points=False):
        registry = registry_with(*plugins, load_entry_points=load_entry_points)
        monkeypatch.setattr(registry_module, "_registry", registry)
        return registry

    return install


# -- register_metrics / register_entities --------------------------------------------------------------
def test_register_entities_and_metrics_and_dimensions_from(kpi):
    kpi.register(ShopPlugin())
    rows = {
        "shops": [{"shop_id": 1, "region": "North"}, {"shop_id": 2, "region": "South"}],
        "visits": [
            {"visit_id": 1, "shop_id": 1, "visited_at": "2026-11-16 10:00:00"},
            {"visit_id": 2, "shop_id": 1, "visited_at": "2026-11-17 10:00:00"},
            {"visit_id": 3, "shop_id": 2, "visited_at": "2026-11-18 10:00:00"},
            {"visit_id": 4, "shop_id": 9, "visited_at": "2026-11-18 10:00:00"},
        ],
    }
    result = kpi.compute("visits", "2026-W47", by="region", **rows)
    assert result.value == 4
    assert [(s.segment, s.value) for s in result.segments] == [("North", 2), ("South", 1), ("(none)", 1)]


def test_entities_without_a_dimension_link_cannot_be_broken_down(kpi):
    class Plain:
        @hookimpl
        def register_entities(self, register):
            register(Entity("visits", VISITS.columns, customer_key=None))

        @hookimpl
        def register_metrics(self, register):
            register(Visits())

    kpi.register(Plain())
    rows = [{"visit_id": 1, "shop_id": 1, "visited_at": "2026-11-16 10:00:00"}]
    result = kpi.compute("visits", "2026-W47", by="region", visits=rows, customers=[])
    assert result.segments is None
    assert "cannot be broken down by region" in result.warnings[0].message


def test_a_pack_whose_entities_the_source_lacks_is_unavailable_naming_the_entity(kpi):
    kpi.register(ShopPlugin())
    result = kpi.compute("visits", "2026-W47", orders=[])
    assert result.status == "unavailable"
    assert "'visits'" in result.reason


# -- bad plugins --------------------------------------------------------------------------------------
class Nameless(Metric):
    unit = "count"
    entity = "orders"
    measures = {"n": Measure.count()}


class OddUnit(Nameless):
    name = "odd_unit"
    unit = "furlongs"


class Duplicate(Nameless):
    name = "revenue"


class Fine(Nameless):
    name = "fine_metric"

    def value(self, m):
        return m.n


class BadMetrics:
    plugin_name = "bad-metrics"

    @hookimpl
    def register_metrics(self, register):
        register(Nameless())
        register(OddUnit())
        register(Duplicate())
        register(Fine())


class Crashing:
    plugin_name = "crashing"

    @hookimpl
    def register_metrics(self, register):
        raise RuntimeError("boom")


def test_bad_metrics_are_problems_naming_the_plugin_and_the_rest_works():
    registry = registry_with(BadMetrics(), Crashing())
    problems = "\n".join(registry.problems)
    assert "plugin bad-metrics: invalid metric: metric name '' must be lower_snake_case" in problems
    assert "unknown unit 'furlongs'" in problems
    # built-in metrics are trylast, so the plugin's registration comes first and the built-in is the duplicate
    assert "metric 'revenue' is registered twice: by bad-metrics and by kpicore.metrics.orders" in problems
    assert "plugin crashing: register_metrics failed: RuntimeError: boom" in problems
    assert "fine_metric" in registry.metrics and "nps" in registry.metrics


def broken_entry_points(monkeypatch):
    broken = metadata.EntryPoint(name="broken", value="kpicore_no_such_module_xyz", group="kpicore")
    monkeypatch.setattr("kpicore.plugins.metadata.entry_points", lambda group: [broken])
    monkeypatch.delenv("KPI_LOAD_PLUGINS", raising=False)


def test_a_plugin_that_fails_to_import_is_recorded(monkeypatch):
    broken_entry_points(monkeypatch)
    registry = registry_with(load_entry_points=True)
    assert registry.problems == [
        "plugin broken failed to load: ModuleNotFoundError: No module named 'kpicore_no_such_module_xyz'"
    ]
    assert "revenue" in registry.metrics


def test_kpi_load_plugins_allow_list_skips_others(monkeypatch):
    broken_entry_points(monkeypatch)
    monkeypatch.setenv("KPI_LOAD_PLUGINS", "something_else")
    # The broken plugin is skipped (no import error); the unknown name is reported, not ignored.
    assert registry_with(load_entry_points=True).problems == [
        (
            "plugin something_else failed to load: KPI_LOAD_PLUGINS names it, but no such plugin is installed "
            "(installed: broken)"
        )
    ]


def test_kpi_plugins_reports_problems_with_plugin_and_reason(monkeypatch, use_registry):
    broken_entry_points(monkeypatch)
    use_registry(BadMetrics(), load_entry_points=True)
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0
    assert "PROBLEM: plugin broken failed to load: ModuleNotFoundError" in result.output
    assert "PROBLEM: plugin bad-metrics: invalid metric: metric 'odd_unit' has unknown unit 'furlongs'" in result.output
    assert "bad-metrics (built-in)" not in result.output or "fine_metric" in result.output


def test_kpi_check_reports_problems_and_unavailable_pack_metrics(monkeypatch, use_registry, tmp_path):
    broken_entry_points(monkeypatch)
    use_registry(BadMetrics(), ShopPlugin(), load_entry_points=True)
    database = tmp_path / "shop.db"
    sqlite3.connect(database).close()
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["check", "--source", str(database)])
    assert result.exit_code == 2
    assert "plugin broken failed to load" in result.output
    assert "plugin bad-metrics: invalid metric" in result.output
    assert "metric visits: unavailable (needs visits)" in result.output


# -- register_connectors / register_channels ----------------------------------------------------------
def test_register_connectors_lets_a_plugin_take_over_a_scheme(tmp_path):
    opened = []

    class MemoryConnector:
        name = "memory"
        description = "test connector"

        def handles(self, url):
            return url.startswith("memory://")

        def open(self, url, config, entities):
            opened.append(url)
            return SimpleNamespace(url=url)

    class Plugin:
        @hookimpl
        def register_connectors(self, register):
            register(MemoryConnector())

    from kpicore.config import SourceConfig
    from kpicore.connectors import open_source

    registry = registry_with(Plugin())
    assert registry.provider("connectors", "memory") == "test-plugin-0"
    assert open_source("memory://x", SourceConfig(base_dir=tmp_path), registry).url == "memory://x"


def test_register_channels_collects_by_scheme():
    class Pigeon:
        scheme = "pigeon"

    class Plugin:
        @hookimpl
        def register_channels(self, register):
            register(Pigeon())

    registry = registry_with(Plugin(), Plugin())
    assert isinstance(registry.channels["pigeon"].item, Pigeon)
    assert any("channel 'pigeon' is registered twice" in p for p in registry.problems)


# -- register_commands ------------------------------------------------------------------------------
def test_register_commands_adds_a_command():
    class Plugin:
        @hookimpl
        def register_commands(self, cli):
            @cli.command("hello")
            def hello():
                """Say hello."""
                click.echo("hello from a plugin")

    group = click.Group("kpi")
    loaded = new_plugin_manager(load_entry_points=False)
    loaded.manager.register(Plugin())
    loaded.manager.hook.register_commands(cli=group)
    assert CliRunner().invoke(group, ["hello"]).output == "hello from a plugin\n"


# -- prepare_jinja2_environment -----------------------------------------------------------------------
def test_prepare_jinja2_environment_adds_filters():
    import jinja2

    class Plugin:
        @hookimpl
        def prepare_jinja2_environment(self, env, config):
            env.filters["shout"] = lambda text: f"{text.upper()}!"

    environment = jinja2.Environment()
    loaded = new_plugin_manager(load_entry_points=False)
    loaded.manager.register(Plugin())
    loaded.manager.hook.prepare_jinja2_environment(env=environment, config=None)
    assert environment.from_string("{{ 'nps' | shout }}").render() == "NPS!"


# -- register_demo_data -------------------------------------------------------------------------------
class ShopDemo(ShopPlugin):
    plugin_name = "shops"

    @hookimpl
    def register_demo_data(self, register):
        def generate(path, today):
            with sqlite3.connect(path) as connection:
                connection.execute("CREATE TABLE shops (shop_id INTEGER, region TEXT)")
                connection.execute("CREATE TABLE visits (visit_id INTEGER, shop_id INTEGER, visited_at TEXT)")
                connection.execute("INSERT INTO shops VALUES (1, 'North')")
                connection.execute(
                    "INSERT INTO visits VALUES (1, 1, ?)", (f"{today.replace(day=1).isoformat()} 10:00:00",)
                )
            return {"shops": 1, "visits": 1}

        register("shops", generate, '[packs.shops]\ngreeting = "hi"\n')


def test_register_demo_data_and_kpi_demo_pack(use_registry, tmp_path, monkeypatch):
    use_registry(ShopDemo())
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["demo", "--pack", "shops", "--period", "this-month"])
    assert result.exit_code == 0, result.output
    assert "1 shops, 1 visits" in result.output
    table, _, digest = result.output.partition("Weekly KPIs — ")
    assert "Visits" in table and "Net Promoter" not in table
    assert "Visits" in digest and "Net Promoter" in digest  # one digest: stock and pack metrics
    assert '[packs.shops]\ngreeting = "hi"' in (tmp_path / "kpi.toml").read_text()
    # a second run keeps the demo kpi.toml and does not repeat the section
    assert CliRunner().invoke(cli, ["demo", "--pack", "shops"]).exit_code == 0
    assert (tmp_path / "kpi.toml").read_text().count("[packs.shops]") == 1


def test_kpi_demo_unknown_pack_lists_the_installed_ones(use_registry, tmp_path, monkeypatch):
    use_registry(ShopDemo())
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["demo", "--pack", "bakery"])
    assert result.exit_code == 2
    assert "no demo data pack 'bakery'; installed packs: shops" in result.output
    assert not (tmp_path / "kpi-demo.db").exists()


def test_bad_demo_data_registration_is_a_problem():
    class Plugin:
        plugin_name = "bad-demo"

        @hookimpl
        def register_demo_data(self, register):
            register("x", "not callable")

    assert registry_with(Plugin()).problems == [
        "plugin bad-demo: invalid demo data: demo data 'x': generate must be callable as generate(path, today)"
    ]
