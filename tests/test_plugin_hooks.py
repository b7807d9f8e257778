"""Every hook, exercised by an in-process plugin on a fresh plugin manager (no installed plugin matters)."""

from __future__ import annotations

import sqlite3
from importlib import metadata
from types import SimpleNamespace

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
    "visits",
    (Column("visit_id", "id"), Column("shop_id", "id"), Column("visited_at", "timestamp")),
    customer_key=None,
    dimensions_from=("shops", "shop_id"),
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
    # built-in metrics are trylast, so the plugin's registration comes first; the built-in keeps the name
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
    assert (
        "PROBLEM: plugin bad-metrics: invalid metric: metric 'odd_unit' has unknown unit 'furlongs'"
        in result.output
    )
    # The plugin is listed with what it kept: the duplicate 'revenue' stays the built-in's.
    assert "bad-metrics (registered in process)\n    metrics: fine_metric\n" in result.output
    assert (
        "PROBLEM: metric 'revenue' is registered twice: by bad-metrics and by kpicore.metrics.orders"
        in result.output
    )
    orders_metrics = result.output.split("kpicore.metrics.orders (built-in)\n    metrics: ")[1].split("\n")[0]
    assert "revenue" in orders_metrics.split(", ")


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
    assert "\nmetrics:\n" in result.output and "  visits: unavailable (needs visits)" in result.output
    assert (
        "PROBLEM: metric 'revenue' is registered twice: by bad-metrics and by kpicore.metrics.orders"
        in result.output
    )


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
COMMAND_PLUGIN = '''
import click
from kpicore import hookimpl


@hookimpl
def register_commands(cli):
    @cli.command("hello")
    def hello():
        """Say hello."""
        click.echo("hello from a plugin")

    @cli.command("boom")
    def boom():
        """Fail the way a plugin bug would."""
        raise RuntimeError("the oven is on fire")
'''


@pytest.fixture
def command_plugin(tmp_path):
    """An installed entry-point plugin (a throw-away distribution on PYTHONPATH) adding two commands."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "hello_kpis.py").write_text(COMMAND_PLUGIN)
    info = site / "hello_kpis-0.3.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hello-kpis\nVersion: 0.3.0\n")
    (info / "entry_points.txt").write_text("[kpicore]\nhello = hello_kpis\n")
    return site


def run_kpi_process(*args, site, cwd, debug=False):
    """`kpi` as a real process, with the plugin's site folder on its path."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "PYTHONPATH": str(site), "KPI_LOAD_PLUGINS": "hello"}
    env.pop("KPI_DEBUG", None)
    if debug:
        env["KPI_DEBUG"] = "1"
    kpi = Path(sys.executable).with_name("kpi")
    return subprocess.run(
        [str(kpi), *args], check=False, capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def test_register_commands_adds_a_command(command_plugin, tmp_path):
    done = run_kpi_process("hello", site=command_plugin, cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "hello from a plugin\n", "")
    listing = run_kpi_process("--help", site=command_plugin, cwd=tmp_path).stdout
    assert "hello" in listing and "Say hello." in listing
    plugins = run_kpi_process("plugins", site=command_plugin, cwd=tmp_path).stdout
    assert "hello-kpis 0.3.0 (entry point hello)" in plugins


def test_an_unexpected_error_is_one_line_naming_the_command(command_plugin, tmp_path):
    done = run_kpi_process("boom", site=command_plugin, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr == (
        "Error: kpi boom failed unexpectedly: RuntimeError: the oven is on fire "
        "(run again with KPI_DEBUG=1 for the traceback)\n"
    )
    debug = run_kpi_process("boom", site=command_plugin, cwd=tmp_path, debug=True)
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "the oven is on fire" in debug.stderr


# -- register_settings ------------------------------------------------------------------------------
class BakerySettings:
    plugin_name = "bakery"

    @hookimpl
    def register_settings(self, register):
        register("packs.bakery", {"opens": "Opening time", "ovens": "Number of ovens", "menu": "Menu"})
        register("packs.bakery.menu", ["bread", "cake"])


def test_register_settings_lets_kpi_check_reject_unknown_keys(
    use_registry, tmp_path, monkeypatch, demo_database
):
    registry = use_registry(BakerySettings())
    assert registry.provider("settings", "packs.bakery") == "bakery"
    assert registry.settings["packs.bakery"].item.keys["ovens"] == "Number of ovens"
    monkeypatch.chdir(tmp_path)
    good = f'[source]\nurl = "{demo_database}"\n[packs.bakery]\nopens = "06:00"\n[packs.bakery.menu]\nbread = 3\n'
    (tmp_path / "kpi.toml").write_text(good)
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 0, result.output
    (tmp_path / "kpi.toml").write_text(
        f'[source]\nurl = "{demo_database}"\n[packs.bakery]\noven = 2\n[packs.bakery.menu]\ncakes = 1\n'
        "[packs.bakey]\nx = 1\n"
    )
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 2
    problems = [line for line in result.output.splitlines() if line.startswith("PROBLEM: ")]
    assert problems == [
        "PROBLEM: kpi.toml: [packs.bakery]: unknown key 'oven' (did you mean 'ovens'?)",
        "PROBLEM: kpi.toml: [packs.bakery.menu]: unknown key 'cakes' (did you mean 'cake'?)",
        (
            "PROBLEM: kpi.toml: [packs.bakey]: no installed plugin reads this table (did you mean 'bakery'?); "
            "`kpi plugins` lists what is installed"
        ),
    ]


def test_bad_and_duplicate_settings_are_problems():
    class Bad:
        plugin_name = "bad-settings"

        @hookimpl
        def register_settings(self, register):
            register("Bakery", ["x"])

    class OtherBakery(BakerySettings):
        plugin_name = "other-bakery"

    registry = registry_with(BakerySettings(), OtherBakery(), Bad())
    assert any(
        p.startswith("settings for 'packs.bakery' is registered twice: by other-bakery and by bakery")
        for p in registry.conflicts
    )
    assert (
        "plugin bad-settings: invalid settings: settings section must be a dotted table name such as "
        "'packs.bakery', not 'Bakery'"
    ) in registry.problems


# -- prepare_jinja2_environment -----------------------------------------------------------------------
def test_prepare_jinja2_environment_adds_filters():
    """Through kpicore's own call (the digest environment), not pluggy's."""
    from kpicore.config import Config
    from kpicore.digest.render import environment
    from kpicore.digest.run import render_options
    from kpicore.plugins import load_plugins

    class Plugin:
        @hookimpl
        def prepare_jinja2_environment(self, env, config):
            env.filters["shout"] = lambda text: f"{text.upper()}! ({config.currency})"

    loaded = load_plugins()
    plugin = Plugin()
    loaded.manager.register(plugin, name="shout")
    try:
        env = environment(jinja_hook=render_options(Config(currency="EUR"))["jinja_hook"])
        assert env.from_string("{{ 'nps' | shout }}").render() == "NPS! (EUR)"
    finally:
        loaded.manager.unregister(plugin)


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


# -- register_catalogs ------------------------------------------------------------------------------
class Loaves(Metric):
    name = "loaves"
    title = "Loaves sold"
    description = "Orders with ordered_at in the period."
    entity = "orders"
    time = "ordered_at"
    measures = {"orders": Measure.count(warn="loaves with no price")}

    def value(self, m):
        return m.orders


def bakery_catalog(folder, language: str, texts: dict[str, str]):
    """A compiled gettext catalog of the domain kpicore_bakery in ``folder`` (what a pack ships)."""
    import io

    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    catalog = Catalog(locale=language, domain="kpicore_bakery")
    for english, translated in texts.items():
        catalog.add(english, translated)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    (folder / language / "LC_MESSAGES").mkdir(parents=True)
    (folder / language / "LC_MESSAGES" / "kpicore_bakery.mo").write_bytes(buffer.getvalue())


def test_register_catalogs_translates_a_plugins_metric_title_and_definition(
    use_registry, tmp_path, monkeypatch, demo_database
):
    from kpicore import i18n

    locale_dir = tmp_path / "locale"
    bakery_catalog(
        locale_dir,
        "ml",
        {"Loaves sold": "വിറ്റ റൊട്ടികൾ", "Orders with ordered_at in the period.": "കാലയളവിലെ ഓർഡറുകൾ."},
    )

    class Bakery:
        plugin_name = "bakery"

        @hookimpl
        def register_metrics(self, register):
            register(Loaves())

        @hookimpl
        def register_catalogs(self, register):
            register("kpicore_bakery", locale_dir)

    saved = i18n.plugin_catalogs()
    try:
        registry = use_registry(Bakery())
        assert registry.provider("catalogs", "kpicore_bakery") == "bakery"
        monkeypatch.chdir(tmp_path)
        (tmp_path / "kpi.toml").write_text(f'locale = "ml_IN"\n[source]\nurl = "{demo_database}"\n')
        table = CliRunner().invoke(cli, ["compute", "loaves", "--period", "2026-W47"])
        assert table.exit_code == 0, table.output
        assert "വിറ്റ റൊട്ടികൾ" in table.output and "Loaves sold" not in table.output
        details = CliRunner().invoke(cli, ["metrics", "--details", "loaves"])
        assert "കാലയളവിലെ ഓർഡറുകൾ." in details.output, details.output
        as_json = CliRunner().invoke(cli, ["metrics", "--json"])
        assert '"title": "Loaves sold"' in as_json.output  # JSON is never translated
    finally:
        i18n._plugin_catalogs.clear()
        i18n.add_catalogs(saved.items())


def test_a_bad_catalog_registration_is_a_problem_naming_the_plugin():
    class Bad:
        plugin_name = "bad-catalog"

        @hookimpl
        def register_catalogs(self, register):
            register("not a domain", "/nowhere")

    registry = registry_with(Bad())
    assert registry.catalogs == {}
    assert registry.problems == [
        "plugin bad-catalog: register_catalogs: domain 'not a domain' must be a name such as \"kpicore_bakery\""
    ]
