"""The sync connector kind (kpicore.sync) with an in-process REST-like plugin: paging, watermarks, resume,
readers seeing only complete syncs, max_age, and the `kpi sync` command.

The vendor connectors (plugins/kpicore-agilecrm) are tested against loopback HTTP servers; here the
"API" is a plain list the test edits, so every count can be worked out by hand.
"""

import datetime as dt

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from kpicore import SourceError, hookimpl
from kpicore import registry as registry_module
from kpicore.cli import cli
from kpicore.compute import compute, select_metrics
from kpicore.config import parse_config
from kpicore.connectors import open_configured_source
from kpicore.errors import ConfigError
from kpicore.periods import parse_period
from kpicore.plugins import new_plugin_manager
from kpicore.registry import build_registry
from kpicore.sync import Page, Stream, SyncConnector, last_sync, run_sync, sync_if_stale

EPOCH = dt.datetime(2026, 11, 16, tzinfo=dt.UTC).timestamp()


class FakeApi:
    """A paged API over a list of people and a list of sales; ``fail_at`` breaks the n-th page fetch."""

    def __init__(self):
        self.people = []
        self.sales = []
        self.fail_at = None
        self.pages_served = 0
        self.since_seen = []

    def page(self, items, since, cursor, size=2):
        self.pages_served += 1
        if self.fail_at is not None and self.pages_served >= self.fail_at:
            self.fail_at = None
            raise SourceError("memory://shop: people: cannot be reached (connection reset)")
        chosen = [i for i in items if since is None or i["updated"] > since]
        start = int(cursor or 0)
        chunk = chosen[start : start + size]
        more = start + size < len(chosen)
        return Page([dict(i) for i in chunk], str(start + size) if more else None, total=len(chosen))


class MemoryConnector(SyncConnector):
    name = "memory"
    scheme = "memory"
    description = "test double of a REST source"
    entities = ("customers", "orders")

    def __init__(self, api):
        self.api = api

    def streams(self, url, config, settings):
        def people(since, cursor):
            self.api.since_seen.append(since)
            while True:
                page = self.api.page(self.api.people, since, cursor)
                yield page
                if page.cursor is None:
                    return
                cursor = page.cursor

        def sales(since, cursor):
            while True:
                page = self.api.page(self.api.sales, None, cursor)
                yield page
                if page.cursor is None:
                    return
                cursor = page.cursor

        return [
            Stream("people", people, key=lambda r: str(r["id"]), watermark=lambda r: r["updated"]),
            Stream("sales", sales, key=lambda r: str(r["id"]), watermark=lambda r: None, incremental=False),
        ]

    def rows(self, stream, record, config):
        if stream == "people":
            return {
                "customers": [
                    {
                        "customer_id": str(record["id"]),
                        "signup_at": dt.datetime.fromtimestamp(record["joined"], dt.UTC),
                        "churned_at": None,
                        "channel": None,
                        "region": record["region"],
                    }
                ]
            }
        return {
            "orders": [
                {
                    "order_id": str(record["id"]),
                    "customer_id": str(record["person"]),
                    "ordered_at": dt.datetime.fromtimestamp(record["at"], dt.UTC),
                    "amount": record["amount"],
                }
            ]
        }


class MemoryPlugin:
    def __init__(self, api):
        self.api = api

    @hookimpl
    def register_connectors(self, register):
        register(MemoryConnector(self.api))


def person(person_id, day, region="North", updated=None):
    joined = EPOCH + day * 86400 + 3600
    return {"id": person_id, "joined": joined, "updated": updated or joined, "region": region}


def sale(sale_id, person_id, day, amount):
    return {"id": sale_id, "person": person_id, "at": EPOCH + day * 86400 + 7200, "amount": amount}


@pytest.fixture
def api():
    api = FakeApi()
    api.people = [person(1, 0), person(2, 1, "South"), person(3, 2), person(4, 8)]
    api.sales = [sale(10, 1, 0, 100.0), sale(11, 2, 1, 50.0), sale(12, 3, 9, 20.0)]
    return api


@pytest.fixture
def setup(api, tmp_path, monkeypatch):
    loaded = new_plugin_manager(load_entry_points=False)
    loaded.manager.register(MemoryPlugin(api), name="memory")
    registry = build_registry(loaded)
    monkeypatch.setattr(registry_module, "_registry", registry)
    (tmp_path / "kpi.toml").write_text(
        '[source]\nurl = "memory://shop"\n[sync]\nmax_age = "1h"\n', encoding="utf-8"
    )
    config = parse_config(
        {"source": {"url": "memory://shop"}, "sync": {"max_age": "1h"}}, tmp_path / "kpi.toml"
    )
    return config, registry


def compute_week(config, registry, metrics=("new_customers", "revenue")):
    source = open_configured_source(config, registry)
    try:
        results = compute(
            select_metrics(list(metrics), registry), parse_period("2026-W47", "UTC"), source, config=config
        )
    finally:
        source.close()
    return {r.metric: r.value for r in results}


def test_a_source_never_synced_says_run_kpi_sync(setup):
    config, registry = setup
    with pytest.raises(SourceError, match=r"memory://shop has not been synced yet: run `kpi sync` first"):
        open_configured_source(config, registry)


def test_full_then_incremental_sync(setup, api):
    config, registry = setup
    first = run_sync(config, registry)
    assert (first.mode, first.total("fetched"), first.total("inserted"), first.total("deleted")) == (
        "full",
        7,
        7,
        0,
    )
    assert first.entity_rows == {"customers": 4, "orders": 3}
    assert compute_week(config, registry) == {"new_customers": 3, "revenue": 150.0}

    api.people[1] = person(2, 1, "West", updated=EPOCH + 30 * 86400)  # changed
    api.people.append(person(5, 3, updated=EPOCH + 31 * 86400))  # new
    del api.sales[0]  # deleted: sales are listed whole
    second = run_sync(config, registry)
    assert second.mode == "incremental"
    assert api.since_seen[-1] == person(4, 8)["updated"] - 1  # the last watermark, minus the overlap
    assert second.streams["people"].fetched == 3  # person 4 again (the 1 s overlap), unchanged: not counted
    assert (second.streams["people"].inserted, second.streams["people"].updated) == (1, 1)
    assert (second.streams["sales"].fetched, second.streams["sales"].deleted) == (2, 1)
    assert compute_week(config, registry) == {"new_customers": 4, "revenue": 50.0}
    assert "Synced memory://shop (incremental) in" in second.line()


def test_an_interrupted_sync_keeps_readers_on_the_last_complete_one_and_resumes(setup, api):
    config, registry = setup
    run_sync(config, registry)
    api.people += [
        person(6, 4, updated=EPOCH + 40 * 86400),
        person(7, 5, updated=EPOCH + 41 * 86400),
        person(8, 6, updated=EPOCH + 42 * 86400),
    ]
    # changes since the watermark: people 4 (again: the 1 s overlap), 6, 7, 8; the second page (7, 8) fails
    api.pages_served, api.fail_at = 0, 2
    with pytest.raises(SourceError, match="cannot be reached"):
        run_sync(config, registry)
    # the first page (people 4 and 6) is committed in the pending area, but no reader sees it
    assert compute_week(config, registry) == {"new_customers": 3, "revenue": 150.0}
    resumed = run_sync(config, registry)
    assert resumed.resumed
    assert resumed.streams["people"].fetched == 4  # page 1 before the failure + page 2 after: none twice
    assert api.pages_served == 2 + 1 + 2  # then the resume: people page 2, and the two pages of sales
    assert resumed.streams["people"].inserted == 3
    assert compute_week(config, registry) == {"new_customers": 6, "revenue": 150.0}
    source = open_configured_source(config, registry)
    try:
        ids = [
            row[0]
            for row in source.execute(sa.text("SELECT customer_id FROM customers ORDER BY customer_id"))
        ]
    finally:
        source.close()
    assert ids == ["1", "2", "3", "4", "6", "7", "8"]  # no duplicates, nothing lost


def test_full_sync_drops_what_the_api_no_longer_has(setup, api):
    config, registry = setup
    run_sync(config, registry)
    del api.people[0]
    summary = run_sync(config, registry, full=True)
    assert summary.streams["people"].deleted == 1
    assert compute_week(config, registry)["new_customers"] == 2


def test_sync_if_stale_syncs_only_when_older_than_max_age(setup, api):
    config, registry = setup
    assert sync_if_stale(config, registry) is not None  # never synced
    assert sync_if_stale(config, registry) is None  # fresh
    assert last_sync(config, registry) is not None
    config.source.sync["max_age"] = "0s"
    assert sync_if_stale(config, registry) is not None


def test_kpi_compute_syncs_first_and_kpi_sync_prints_a_summary(setup, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["compute", "new_customers", "--period", "2026-W47", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "Synced memory://shop (full)" in result.stderr
    assert '"value": 3' in result.stdout
    again = CliRunner().invoke(cli, ["sync"])
    assert again.exit_code == 0, again.output
    assert again.stdout.startswith("Synced memory://shop (incremental) in ")
    assert "7 fetched" not in again.stdout  # incremental: only what changed (people past the watermark)


def test_kpi_sync_on_a_database_source_is_a_usage_error(setup, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["sync", "--source", "sqlite:///shop.db"])
    assert result.exit_code == 2
    assert "nothing to sync" in result.stderr and "CRM plugins" in result.stderr


def test_unknown_sync_key_is_a_config_error(setup):
    config, registry = setup
    config.source.sync["page_sise"] = 10
    with pytest.raises(ConfigError, match=r"\[sync\]: unknown key 'page_sise'"):
        run_sync(config, registry)


def test_one_staging_database_holds_one_source(setup, api):
    config, registry = setup
    run_sync(config, registry)
    with pytest.raises(ConfigError, match=r"holds the sync of memory://shop: set \[sync\] url"):
        run_sync(config, registry, "memory://other")


def test_postgresql_staging(setup, api):
    """`[sync] url` on PostgreSQL: a throw-away schema, reached through the URL's search_path."""
    import uuid

    from kpicore.testing import POSTGRES_URL

    config, registry = setup
    schema = f"kpi_sync_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        config.source.sync["url"] = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
        summary = run_sync(config, registry)
        assert summary.entity_rows == {"customers": 4, "orders": 3}
        assert compute_week(config, registry) == {"new_customers": 3, "revenue": 150.0}
        with admin.connect() as connection:
            tables = set(
                connection.execute(
                    sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = :schema"),
                    {"schema": schema},
                ).scalars()
            )
        assert {"customers", "orders", "_kpi_sync_runs", "_kpi_sync_pending"} <= tables
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
