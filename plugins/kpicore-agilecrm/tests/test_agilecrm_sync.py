"""kpicore-agilecrm against a loopback server built from Agile CRM's REST API docs (agile_server.py).

Full and incremental syncs give the same entities and the same numbers for every metric they serve as the
same records loaded as CSV; an interrupted sync resumes losing and duplicating nothing; 401, 429, 5xx,
timeouts, expired cursors and a field that changed type are handled as one clear line each.
"""

import datetime as dt
import json
import os
import subprocess
import sys

import kpicore_agilecrm
import pytest
from agile_data import canonical, load, make_facts
from agile_server import AgileServer, AgileState

from kpicore import ConfigError, SourceError
from kpicore.config import parse_config
from kpicore.connectors import open_configured_source
from kpicore.sync import run_sync
from kpicore.testing import comparable_tables, metric_numbers, plugin_registry, table_rows, write_csv_folder

EMAIL, KEY = "owner@acme.example", "k3y-s3cret-value"
TODAY = dt.date(2026, 11, 25)
PERIOD = "2026-W47"
ENTITIES = ("customers", "leads", "orders", "tickets")


@pytest.fixture
def state():
    state = AgileState(EMAIL, KEY)
    load(state, *make_facts(TODAY))
    return state


@pytest.fixture
def server(state, monkeypatch):
    server = AgileServer(state).start()
    monkeypatch.setenv("KPI_AGILECRM_API_BASE", server.base)
    monkeypatch.setenv("KPI_AGILECRM_EMAIL", EMAIL)
    monkeypatch.setenv("KPI_AGILECRM_API_KEY", KEY)
    yield server
    server.stop()


@pytest.fixture
def registry():
    return plugin_registry(kpicore_agilecrm, "agilecrm")


@pytest.fixture
def config(tmp_path):
    raw = {
        "source": {"url": "agilecrm://acme"},
        "sync": {"url": "staging.db", "page_size": 25, "timeout": 1, "retries": 2, "max_retry_wait": 5},
    }
    return parse_config(raw, tmp_path / "kpi.toml")


WAITS = []


def sync(config, registry, **options):
    return run_sync(config, registry, sleep=WAITS.append, **options)


def staged(config) -> dict[str, list[tuple]]:
    return table_rows(config.base_dir / "staging.db", ENTITIES)


def csv_copy(tmp_path, registry, facts):
    folder = tmp_path / "csv-copy"
    entities = {name: r.item for name, r in registry.entities.items()}
    write_csv_folder(folder, canonical(*facts), entities)
    return str(folder)


def assert_same_numbers(synced: dict, copied: dict):
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
    assert summary.mode == "full"
    assert summary.total("fetched") == len(state.contacts) + len(state.deals) + len(state.tickets)
    assert staged(config) == comparable_tables(canonical(*facts))
    assert_same_numbers(
        metric_numbers(config, registry, PERIOD),
        metric_numbers(csv_copy(tmp_path, registry, facts), registry, PERIOD, tmp_path),
    )
    # the list endpoints, JSON asked for, credentials as Basic auth
    paths = {path for _, path, _ in state.requests}
    assert {"/dev/api/contacts", "/dev/api/opportunity", "/dev/api/tickets/filter"} <= paths


def test_incremental_sync_fetches_changes_only_and_still_equals_the_csv_copy(
    server, state, config, registry, tmp_path
):
    persons, deals, tickets = make_facts(TODAY)
    sync(config, registry)
    later = int(dt.datetime(2026, 11, 26, tzinfo=dt.UTC).timestamp())
    churner = next(p for p in persons if not p.lead and "Churned" not in p.tags)
    churner.tags.append("Churned")
    churner.tag_times["Churned"] = int(dt.datetime(2026, 11, 18, tzinfo=dt.UTC).timestamp()) * 1000
    churner.updated = later
    deals[1].milestone, deals[1].close, deals[1].updated = "Won", later - 86400 * 8, later
    tickets[2].closed_ms = (later - 86400 * 6) * 1000
    tickets[2].updated_ms = later * 1000
    load(state, persons, deals, tickets)
    state.requests.clear()
    summary = sync(config, registry)
    assert summary.mode == "incremental"
    assert summary.total("fetched") < 10  # the three changes (and what changed in the same second)
    assert (
        summary.streams["contacts"].updated,
        summary.streams["deals"].updated,
        summary.streams["tickets"].updated,
    ) == (1, 1, 1)
    assert any(path == "/dev/api/filters/filter/dynamic-filter" for _, path, _ in state.requests)
    assert not any(path == "/dev/api/contacts" for _, path, _ in state.requests)
    facts = (persons, deals, tickets)
    assert staged(config) == comparable_tables(canonical(*facts))
    assert_same_numbers(
        metric_numbers(config, registry, PERIOD),
        metric_numbers(csv_copy(tmp_path, registry, facts), registry, PERIOD, tmp_path),
    )


def test_a_server_dying_mid_page_then_resume_loses_and_duplicates_nothing(
    server, state, config, registry, monkeypatch, capsys
):
    facts = make_facts(TODAY)
    state.die_after_pages = (
        3  # contacts pages 1-3 (75 contacts) arrive; page 4 is cut in half, then the server is gone
    )
    with pytest.raises(SourceError, match=r"agilecrm://acme: contacts: cannot be reached"):
        sync(config, registry)
    with pytest.raises(SourceError, match="has not been synced yet"):
        open_configured_source(config, registry)  # nothing half-written is readable
    revived = AgileServer(state).start()  # the same account comes back (on another port)
    state.die_after_pages = None
    monkeypatch.setenv("KPI_AGILECRM_API_BASE", revived.base)
    try:
        state.requests.clear()
        summary = sync(config, registry)
    finally:
        revived.stop()
    assert summary.resumed
    first_cursor = next(
        params.get("cursor") for _, path, params in state.requests if path == "/dev/api/contacts"
    )
    assert first_cursor is not None  # resumed at page 4, not from the start
    counts = {name: (c.fetched, c.inserted) for name, c in summary.streams.items()}
    assert counts == {"contacts": (120, 120), "deals": (60, 60), "tickets": (60, 60)}
    assert staged(config) == comparable_tables(canonical(*facts))
    with capsys.disabled():
        print(f"\nresume counts: {counts}; {summary.line()}")


def test_a_bad_key_is_one_line_without_the_key(server, state, config, registry, monkeypatch):
    monkeypatch.setenv("KPI_AGILECRM_API_KEY", "revoked-key-123")
    with pytest.raises(ConfigError) as caught:
        sync(config, registry)
    message = str(caught.value)
    assert message.startswith("agilecrm://acme: contacts: the server refused the credentials (401)")
    assert "KPI_AGILECRM_API_KEY" in message and "revoked-key-123" not in message and "\n" not in message


def test_429_waits_for_retry_after_and_5xx_is_retried(server, state, config, registry):
    WAITS.clear()
    state.faults = ["429", "503"]  # two failures of the first request: within [sync] retries = 2
    summary = sync(config, registry)
    assert summary.total("fetched") == 240
    assert WAITS == [1.0, 1.0]  # the server's Retry-After, then the first backoff step after the 503


def test_persistent_5xx_stops_the_sync_and_keeps_the_last_complete_one(server, state, config, registry):
    sync(config, registry)
    before = metric_numbers(config, registry, PERIOD)
    state.contacts[0]["updated_time"] = 1_900_000_000
    state.faults = ["500"] * 3  # more than [sync] retries = 2
    with pytest.raises(
        SourceError, match=r"agilecrm://acme: contacts: server error 500: Service Unavailable, 3 attempts"
    ):
        sync(config, registry)
    assert metric_numbers(config, registry, PERIOD) == before


def test_a_page_that_times_out_is_retried(server, state, config, registry):
    state.faults = ["slow"]
    state.slow_seconds = 2.5  # past [sync] timeout = 1 s
    assert sync(config, registry).total("fetched") == 240


def test_an_expired_cursor_restarts_the_stream(server, state, config, registry):
    facts = make_facts(TODAY)
    state.die_after_pages = 1
    with pytest.raises(SourceError):
        sync(config, registry)
    revived = AgileServer(state).start()
    state.die_after_pages, state.cursor_generation = None, 1  # the saved cursor is no longer accepted
    os.environ["KPI_AGILECRM_API_BASE"] = revived.base
    try:
        summary = sync(config, registry)
    finally:
        revived.stop()
    assert summary.streams["contacts"].inserted == 120
    assert staged(config) == comparable_tables(canonical(*facts))


def test_a_field_that_changed_type_names_object_and_field(server, state, config, registry):
    state.contacts[3]["created_time"] = "yesterday"
    with pytest.raises(
        SourceError,
        match=rf"agilecrm contacts {state.contacts[3]['id']}: field created_time is "
        r"'yesterday', expected epoch seconds",
    ):
        sync(config, registry)


def test_without_credentials_the_message_says_which_variable(server, config, registry, monkeypatch):
    monkeypatch.delenv("KPI_AGILECRM_API_KEY")
    with pytest.raises(ConfigError, match="no API key: set KPI_AGILECRM_API_KEY"):
        sync(config, registry)


def test_kpi_sync_then_compute_last_week_equals_the_csv_copy(server, state, registry, tmp_path):
    """The 'done when': `kpi sync` then `kpi compute all --period last-week` as real processes."""
    today = dt.date.today()
    facts = make_facts(today)
    load(state, *facts)
    (tmp_path / "kpi.toml").write_text(
        '[source]\nurl = "agilecrm://acme"\nemail = "owner@acme.example"\n[sync]\nmax_age = "1h"\n',
        encoding="utf-8",
    )
    env = {**os.environ, "KPI_LOAD_PLUGINS": "agilecrm", "KPI_AGILECRM_API_BASE": server.base}
    env.pop("KPI_AGILECRM_EMAIL", None)
    kpi = os.path.join(os.path.dirname(sys.executable), "kpi")

    def run(*args):
        return subprocess.run(
            [kpi, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False
        )

    synced = run("sync")
    assert synced.returncode == 0, synced.stderr
    assert synced.stdout.startswith("Synced agilecrm://acme (full) in ")
    assert KEY not in synced.stdout + synced.stderr
    from_crm = run("compute", "all", "--period", "last-week", "--format", "json")
    assert from_crm.returncode == 0, from_crm.stderr
    folder = csv_copy(tmp_path, registry, facts)
    from_csv = run("compute", "all", "--period", "last-week", "--format", "json", "--source", folder)
    assert from_csv.returncode == 0, from_csv.stderr

    def numbers(output):
        return {
            r["metric"]: (r["value"], r["previous"], r["n"])
            for r in json.loads(output)
            if r["status"] == "ok"
        }

    assert numbers(from_crm.stdout) == numbers(from_csv.stdout)
    assert len(numbers(from_crm.stdout)) >= 10


def test_the_throughput_benchmark_runs(tmp_path):
    script = os.path.join(os.path.dirname(__file__), "..", "..", "..", "benchmarks", "sync_agilecrm.py")
    done = subprocess.run(
        [sys.executable, script, "--people", "40", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("KPI_")},
    )
    assert done.returncode == 0, done.stderr
    assert "full sync of 80 objects" in done.stdout and "objects/s" in done.stdout


def test_pack_settings_are_declared_and_checked_by_kpicore(tmp_path):
    (tmp_path / "kpi.toml").write_text(
        '[source]\nurl = "agilecrm://acme"\nemail = "owner@acme.example"\n[packs.agilecrm]\nlead_tags = "Lead"\n',
        encoding="utf-8",
    )
    env = {**os.environ, "KPI_LOAD_PLUGINS": "agilecrm"}
    kpi = os.path.join(os.path.dirname(sys.executable), "kpi")
    for command in ("check", "sync"):
        result = subprocess.run(
            [kpi, command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
        )
        assert result.returncode == 2, result.stdout + result.stderr
        assert (
            "kpi.toml: [packs.agilecrm]: unknown key 'lead_tags' (did you mean 'lead_tag'?)" in result.stderr
        )
