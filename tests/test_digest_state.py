"""The delivery ledger in the state database (migrations 0002-0003), on SQLite and on PostgreSQL: schema,
racing senders (threads and processes), and send_digest end to end."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import threading
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from kpicore.channels import Channel, Delivery
from kpicore.config import parse_config
from kpicore.delivery import MessageKey, deliver, ledger
from kpicore.digest.config import digest_spec
from kpicore.digest.run import prepare_digest
from kpicore.registry import get_registry
from kpicore.serve.send import send_digest
from kpicore.state import open_state
from kpicore.testing import create_mysql_database, drop_mysql_database, mysql_url

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def state_url(request, tmp_path):
    """A fresh, empty state database: a SQLite file, or a throw-away PostgreSQL or MariaDB database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kpi-state.db'}"
        return
    if request.param == "mysql":
        database = create_mysql_database("kpi_state_test")  # MariaDB must answer: CI checks it
        try:
            yield mysql_url(database)
        finally:
            open_state.cache_clear()
            drop_mysql_database(database)
        return
    name = f"kpi_state_test_{uuid.uuid4().hex[:10]}"
    server = sa.create_engine(f"{POSTGRES_SERVER}/test", isolation_level="AUTOCOMMIT")
    with server.connect() as connection:  # PostgreSQL must answer: CI checks it with pg_isready
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = f"{POSTGRES_SERVER}/{name}"
    try:
        yield url
    finally:
        open_state.cache_clear()  # the cached engine holds connections to the database
        sa.create_engine(url).dispose()
        with server.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


class SlowRecorder(Channel):
    """Records sends; slow enough that racing senders overlap."""

    scheme = "rec"
    description = "records sends"
    formats = ()

    def __init__(self):
        self.sent: list[str] = []
        self.lock = threading.Lock()

    def send(self, message, target, settings):
        time.sleep(0.05)
        with self.lock:
            self.sent.append(target)
        return Delivery(message_ids=[f"rec-{len(self.sent)}"])


def _alembic(connection):
    from pathlib import Path as _Path

    from alembic.config import Config as AlembicConfig

    import kpicore.state

    config = AlembicConfig()
    config.set_main_option("script_location", str(_Path(kpicore.state.__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    return config


def test_every_migration_from_0001_ends_at_the_live_table_and_keeps_rows(state_url):
    """A database made at 0001, filled at 0002, upgraded to head: the live definition, the old rows kept."""
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = sa.create_engine(state_url)
    with engine.begin() as connection:
        command.upgrade(_alembic(connection), "0001")
    with engine.begin() as connection:
        command.upgrade(_alembic(connection), "0002")
        connection.execute(
            sa.text(
                "INSERT INTO deliveries (digest, period, destination, status, attempts, message_ids, updated_at) "
                "VALUES ('weekly', '2026-W47', 'slack:#kpis', 'sent', 1, '[\"C1:1.2\"]', :now)"
            ),
            {"now": dt.datetime(2026, 11, 23, 9, tzinfo=dt.UTC)},
        )
    with engine.begin() as connection:
        command.upgrade(_alembic(connection), "head")
    from kpicore.channels.chart_links import chart_links_table
    from kpicore.chat.replays import request_claims_table
    from kpicore.follows import follows_table

    metadata = sa.MetaData()
    ledger.deliveries_table(metadata)
    follows_table(metadata)
    request_claims_table(metadata)
    chart_links_table(metadata)
    from kpicore.incremental import store

    for table in store.metadata.tables.values():
        table.to_metadata(metadata)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
        version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    assert version == "0008"
    assert [
        d
        for d in differences
        if any(
            t in repr(d) for t in ("deliveries", "follows", "request_claims", "chart_links", "incremental_")
        )
    ] == []
    unique = sa.inspect(engine).get_unique_constraints("deliveries")
    assert [sorted(u["column_names"]) for u in unique] == [
        ["destination", "kind", "name", "period", "segment"]
    ]
    (row,) = ledger.list_deliveries(engine)
    assert (row.kind, row.name, row.period, row.segment, row.status, row.message_ids) == (
        "digest",
        "weekly",
        "2026-W47",
        "",
        "sent",
        ["C1:1.2"],
    )
    # The new key: an alert named like the digest no longer collides with it.
    assert ledger.claim(engine, MessageKey("alert", "weekly", "2026-W47"), "slack:#kpis").claimed
    assert not ledger.claim(engine, MessageKey("digest", "weekly", "2026-W47"), "slack:#kpis").claimed
    engine.dispose()


def test_migrations_import_no_live_code():
    """Each migration carries its own table definitions, so history never changes with the code."""
    folder = Path(__file__).parent.parent / "kpicore" / "migrations" / "versions"
    for path in sorted(folder.glob("0*.py")):
        imports = [line for line in path.read_text().splitlines() if line.startswith(("import ", "from "))]
        assert all("kpicore" not in line for line in imports), (path.name, imports)


def test_racing_threads_send_once(state_url):
    from kpicore.digest.message import OutgoingDigest
    from tests.digest_data import PERIOD, sample_spec

    engine = open_state(state_url)
    spec = sample_spec(destinations=["rec:team"])
    outgoing = OutgoingDigest(spec=spec, period_label=PERIOD, renderings={})
    recorder = SlowRecorder()
    outcomes = []
    barrier = threading.Barrier(6)

    def sender():
        barrier.wait()
        outcomes.extend(deliver(outgoing.key, ["rec:team"], outgoing, engine, {"rec": recorder}))

    threads = [threading.Thread(target=sender) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert recorder.sent == ["team"]
    assert sorted(o.status for o in outcomes) == ["sent"] + ["skipped"] * 5
    (row,) = ledger.list_deliveries(engine)
    assert row.status == "sent" and row.attempts == 1


def race(target, url: str, processes: int = 3) -> list:
    """Run ``target(url, start, results)`` in fresh processes released together; their results."""
    context = multiprocessing.get_context("spawn")
    ready, start, results = context.Queue(), context.Event(), context.Queue()
    running = [context.Process(target=target, args=(url, (ready, start), results)) for _ in range(processes)]
    for process in running:
        process.start()
    for _ in running:
        ready.get(timeout=60)
    start.set()
    outcomes = [results.get(timeout=60) for _ in running]
    for process in running:
        process.join(timeout=60)
    return outcomes


def _wait_for_start(gate) -> None:
    ready, start = gate
    ready.put(True)
    start.wait()


def _claim_in_process(url: str, gate, results) -> None:
    engine = sa.create_engine(url)
    from kpicore.delivery import MessageKey as Key  # imported before the start, not during the race
    from kpicore.delivery import ledger as ledger_module

    key = Key("digest", "weekly", "2026-W47")
    _wait_for_start(gate)
    results.put(ledger_module.claim(engine, key, "slack:#kpis").claimed)
    engine.dispose()


def test_racing_processes_claim_once(state_url):
    open_state(state_url)  # migrated once, before the race
    assert sorted(race(_claim_in_process, state_url)) == [False, False, True]


def test_send_digest_records_in_the_configured_state_database(
    state_url, demo_database, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    config = parse_config(
        {
            "state_url": state_url,
            "source": {"url": str(demo_database)},
            "digests": {
                "weekly": {
                    "metrics": ["revenue", "nps"],
                    "breakdowns": {"nps": "region"},
                    "period": "2026-W47",
                    "trend": 4,
                    "destinations": ["file:out"],
                }
            },
        },
        tmp_path / "kpi.toml",
    )
    registry = get_registry()
    spec = digest_spec(config, "weekly", registry)
    run = send_digest(config, spec, registry=registry)
    assert [o.status for o in run.outcomes] == ["sent"]
    assert (tmp_path / "out" / "weekly-2026-W47.txt").is_file()
    again = send_digest(config, spec, registry=registry)
    assert [o.status for o in again.outcomes] == ["skipped"]
    (row,) = ledger.list_deliveries(open_state(state_url), digest="weekly")
    assert (row.period, row.destination, row.status, row.attempts) == ("2026-W47", "file:out", "sent", 1)
    # Computed values were stored too: totals and the nps segments.
    with open_state(state_url).connect() as connection:
        segments = (
            connection.execute(
                sa.text("SELECT segment FROM metric_values WHERE metric = 'nps' AND period = '2026-W47'")
            )
            .scalars()
            .all()
        )
    assert "" in segments and "region=North" in segments


def test_prepare_digest_without_store_leaves_no_values(tmp_path, demo_database):
    state = tmp_path / "state.db"
    config = parse_config(
        {
            "state_url": f"sqlite:///{state}",
            "source": {"url": str(demo_database)},
            "digests": {"weekly": {"metrics": ["nps"], "period": "2026-W47", "trend": 0}},
        },
        Path(tmp_path / "kpi.toml"),
    )
    registry = get_registry()
    prepared = prepare_digest(config, digest_spec(config, "weekly", registry), registry=registry, store=False)
    assert prepared.results[0].trend is None and prepared.outgoing.rendered("text").body
    assert not state.exists()


def _open_state_in_process(url: str, gate, results) -> None:
    _wait_for_start(gate)
    try:
        open_state(url)
        results.put("ok")
    except Exception as error:
        results.put(f"{type(error).__name__}: {error}")


def test_processes_migrating_a_new_database_together(state_url):
    assert race(_open_state_in_process, state_url) == ["ok"] * 3
