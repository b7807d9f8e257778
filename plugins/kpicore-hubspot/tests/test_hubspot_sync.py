"""kpicore-hubspot against a loopback server built from HubSpot's CRM API reference (hubspot_server.py).

Full and incremental (search API by last-modified date) syncs give the same entities and numbers as the
same records loaded as CSV; an interrupted sync resumes losing and duplicating nothing; 401, 429 and 5xx
are handled as one clear line each; the 10,000-result cap of the search API is worked around.
"""

import datetime as dt
import os
import subprocess
import sys

import kpicore_hubspot
import pytest
from hubspot_data import canonical, load, make_facts
from hubspot_server import HubSpotServer, HubSpotState
from kpicore_hubspot import connector as hubspot_connector

from kpicore import ConfigError, SourceError
from kpicore.config import parse_config
from kpicore.sync import run_sync
from kpicore.testing import comparable_tables, metric_numbers, plugin_registry, table_rows, write_csv_folder

TOKEN = "pat-na1-00000000-test-token"
TODAY = dt.date(2026, 11, 25)
PERIOD = "2026-W47"
ENTITIES = ("customers", "leads", "orders", "tickets")
PACK = {
    "churn_property": "churned_on",
    "dimensions": ["country"],
    "ticket_contacts_property": "num_customer_contacts",
}


@pytest.fixture
def state():
    state = HubSpotState(TOKEN)
    load(state, *make_facts(TODAY))
    return state


@pytest.fixture
def server(state, monkeypatch):
    server = HubSpotServer(state).start()
    monkeypatch.setenv("KPI_HUBSPOT_API_BASE", server.base)
    monkeypatch.setenv("KPI_HUBSPOT_TOKEN", TOKEN)
    yield server
    server.stop()


@pytest.fixture
def registry():
    return plugin_registry(kpicore_hubspot, "hubspot")


@pytest.fixture
def config(tmp_path):
    raw = {
        "source": {"url": "hubspot://"},
        "packs": {"hubspot": PACK},
        "sync": {"url": "staging.db", "page_size": 25, "timeout": 1, "retries": 2, "max_retry_wait": 5},
    }
    return parse_config(raw, tmp_path / "kpi.toml")


WAITS = []


def sync(config, registry, **options):
    return run_sync(config, registry, sleep=WAITS.append, **options)


def staged(config) -> dict[str, list[tuple]]:
    return table_rows(config.base_dir / "staging.db", ENTITIES)


def assert_same_numbers(config, registry, tmp_path, facts):
    folder = tmp_path / "csv-copy"
    write_csv_folder(folder, canonical(*facts), {n: r.item for n, r in registry.entities.items()})
    synced, copied = (
        metric_numbers(config, registry, PERIOD),
        metric_numbers(str(folder), registry, PERIOD, tmp_path),
    )
    assert set(synced) == set(copied)
    assert {"new_customers", "churn_rate", "revenue", "conversion_rate", "fcr", "escalation_rate"} <= set(
        synced
    )
    for metric, (value, previous, n) in copied.items():
        assert synced[metric][2] == n, metric
        for got, want in zip(synced[metric][:2], (value, previous), strict=True):
            assert (got is None and want is None) or got == pytest.approx(want), metric


def test_full_sync_equals_the_csv_copy(server, state, config, registry, tmp_path):
    facts = make_facts(TODAY)
    summary = sync(config, registry)
    assert summary.mode == "full" and summary.total("fetched") == 240
    assert staged(config) == comparable_tables(canonical(*facts))
    assert_same_numbers(config, registry, tmp_path, facts)
    lists = [params for method, path, params in state.requests if path == "/crm/v3/objects/deals"]
    assert lists and all(p.get("associations") == "contacts" for p in lists)


def test_incremental_sync_uses_the_search_api_and_equals_the_csv_copy(
    server, state, config, registry, tmp_path
):
    people, deals, tickets = make_facts(TODAY)
    sync(config, registry)
    later = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)
    churner = next(c for c in people if c.customer_at and not c.churned_at)
    churner.churned_at, churner.modified = dt.datetime(2026, 11, 18, tzinfo=dt.UTC), later
    deal = next(d for d in deals if d.stage != "closedwon")
    deal.stage, deal.close, deal.modified = "closedwon", dt.datetime(2026, 11, 17, tzinfo=dt.UTC), later
    ticket = next(t for t in tickets if t.closed is None)
    ticket.closed, ticket.modified = dt.datetime(2026, 11, 19, tzinfo=dt.UTC), later
    load(state, people, deals, tickets)
    state.requests.clear()
    summary = sync(config, registry)
    assert summary.mode == "incremental"
    assert (
        summary.total("fetched") <= 6
    )  # the three changes, and the last record of each stream again (overlap)
    assert [summary.streams[n].updated for n in ("contacts", "deals", "tickets")] == [1, 1, 1]
    searches = {path: params["body"] for method, path, params in state.requests if path.endswith("/search")}
    assert (
        searches["/crm/v3/objects/contacts/search"]["filterGroups"][0]["filters"][0]["propertyName"]
        == "lastmodifieddate"
    )
    assert (
        searches["/crm/v3/objects/deals/search"]["filterGroups"][0]["filters"][0]["propertyName"]
        == "hs_lastmodifieddate"
    )
    assert any(path == "/crm/v4/associations/deals/contacts/batch/read" for _, path, _ in state.requests)
    facts = (people, deals, tickets)
    assert staged(config) == comparable_tables(canonical(*facts))
    assert_same_numbers(config, registry, tmp_path, facts)


def test_the_search_cap_of_10000_results_starts_a_new_search(server, state, config, registry, monkeypatch):
    people, deals, tickets = make_facts(TODAY)
    sync(config, registry)
    later = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)
    for number, contact in enumerate(people):
        contact.modified = later + dt.timedelta(seconds=number)
    load(state, people, deals, tickets)
    monkeypatch.setattr(hubspot_connector, "SEARCH_LIMIT", 50)  # the cap, scaled down to the test data
    state.requests.clear()
    summary = sync(config, registry)
    assert summary.streams["contacts"].fetched >= 120
    searches = [p["body"] for _, path, p in state.requests if path == "/crm/v3/objects/contacts/search"]
    assert max(int(body.get("after") or 0) for body in searches) < 50
    assert len({body["filterGroups"][0]["filters"][0]["value"] for body in searches}) >= 3
    assert staged(config) == comparable_tables(canonical(people, deals, tickets))


def test_a_server_dying_mid_page_then_resume_loses_and_duplicates_nothing(
    server, state, config, registry, monkeypatch
):
    facts = make_facts(TODAY)
    state.die_after_pages = 2
    with pytest.raises(SourceError, match=r"hubspot://: contacts: cannot be reached"):
        sync(config, registry)
    revived = HubSpotServer(state).start()
    state.die_after_pages = None
    monkeypatch.setenv("KPI_HUBSPOT_API_BASE", revived.base)
    try:
        state.requests.clear()
        summary = sync(config, registry)
    finally:
        revived.stop()
    assert summary.resumed
    first = next(p for _, path, p in state.requests if path == "/crm/v3/objects/contacts")
    assert first.get("after") == "50"  # resumed at the third page
    assert {n: (c.fetched, c.inserted) for n, c in summary.streams.items()} == {
        "contacts": (120, 120),
        "deals": (60, 60),
        "tickets": (60, 60),
    }
    assert staged(config) == comparable_tables(canonical(*facts))


def test_a_revoked_token_is_one_line_without_the_token(server, config, registry, monkeypatch):
    monkeypatch.setenv("KPI_HUBSPOT_TOKEN", "pat-revoked-999")
    with pytest.raises(ConfigError) as caught:
        sync(config, registry)
    message = str(caught.value)
    assert message.startswith("hubspot://: contacts: the server refused the credentials (401")
    assert "Authentication credentials not found" in message and "KPI_HUBSPOT_TOKEN" in message
    assert "pat-revoked-999" not in message and "\n" not in message


def test_429_and_5xx_are_retried(server, state, config, registry):
    WAITS.clear()
    state.faults = ["429", "502"]
    assert sync(config, registry).total("fetched") == 240
    assert WAITS == [1.0, 1.0]


def test_a_property_that_changed_type_names_object_and_property(server, state, config, registry):
    state.objects["deals"][0]["properties"]["dealstage"] = "closedwon"
    state.objects["deals"][0]["properties"]["amount"] = "a lot"
    with pytest.raises(
        SourceError, match=r"hubspot deals \d+: property amount is 'a lot', expected a number"
    ):
        sync(config, registry)


def test_kpi_sync_then_compute_last_week_as_processes(server, state, registry, tmp_path):
    facts = make_facts(dt.date.today())
    load(state, *facts)
    (tmp_path / "kpi.toml").write_text(
        '[source]\nurl = "hubspot://"\n[packs.hubspot]\nchurn_property = "churned_on"\ndimensions = ["country"]\n'
        'ticket_contacts_property = "num_customer_contacts"\n',
        encoding="utf-8",
    )
    env = {**os.environ, "KPI_LOAD_PLUGINS": "hubspot"}
    kpi = os.path.join(os.path.dirname(sys.executable), "kpi")

    def run(*args):
        return subprocess.run(
            [kpi, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
        )

    synced = run("sync")
    assert synced.returncode == 0, synced.stderr
    assert TOKEN not in synced.stdout + synced.stderr
    import json

    from_crm = run("compute", "all", "--period", "last-week", "--format", "json")
    folder = tmp_path / "csv-copy"
    write_csv_folder(folder, canonical(*facts), {n: r.item for n, r in registry.entities.items()})
    from_csv = run("compute", "all", "--period", "last-week", "--format", "json", "--source", str(folder))
    assert from_crm.returncode == 0 and from_csv.returncode == 0, from_crm.stderr + from_csv.stderr

    def numbers(output):
        return {
            r["metric"]: (r["value"], r["previous"], r["n"])
            for r in json.loads(output)
            if r["status"] == "ok"
        }

    assert numbers(from_crm.stdout) == numbers(from_csv.stdout) and len(numbers(from_csv.stdout)) >= 10


def test_pack_settings_are_declared_and_checked_by_kpicore(server, registry, tmp_path):
    assert set(registry.settings["packs.hubspot"].item.keys) == set(hubspot_connector.PACK_KEYS)
    raw = {"source": {"url": "hubspot://"}, "packs": {"hubspot": {"won_stage": ["closedwon"]}}}
    config = parse_config(raw, tmp_path / "kpi.toml")
    with pytest.raises(ConfigError) as caught:
        sync(config, registry)
    assert str(caught.value).endswith(
        "kpi.toml: [packs.hubspot]: unknown key 'won_stage' (did you mean 'won_stages'?)"
    )
