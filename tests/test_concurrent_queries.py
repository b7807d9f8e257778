"""Independent queries of one compute run at the same time on pooled connections (``Source.execute_all``)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from kpicore.config import SourceConfig
from kpicore.connectors import open_source
from kpicore.errors import SourceError
from kpicore.source import MAX_CONCURRENT_QUERIES, usable_cores
from kpicore.testing import POSTGRES_URL, write_tables


@pytest.fixture
def registry():
    from kpicore.plugins import new_plugin_manager
    from kpicore.registry import build_registry

    return build_registry(new_plugin_manager(load_entry_points=False), strict=True)


@pytest.fixture
def sqlite_file(tmp_path, registry):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    entities = {name: registered.item for name, registered in registry.entities.items()}
    write_tables(
        engine,
        {
            "survey_responses": [
                {
                    "response_id": 1,
                    "customer_id": 1,
                    "survey": "nps",
                    "score": 9,
                    "responded_at": "2026-11-16 10:00:00",
                },
            ]
        },
        entities,
    )
    engine.dispose()
    return tmp_path / "shop.db"


def test_postgres_queries_overlap(registry):
    # Each statement waits (up to 30 s) until another statement carrying the same marker is active in
    # another session: both return true only if execute_all ran them at the same time.
    schema = f"kpi_conc_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        connection.execute(
            sa.text(f"""
            CREATE FUNCTION "{schema}".met_peer(marker text, wanted int, seconds int) RETURNS boolean AS $$
            BEGIN
              FOR i IN 1 .. seconds * 20 LOOP
                PERFORM pg_stat_clear_snapshot();  -- pg_stat_activity is otherwise read once per transaction
                IF (SELECT count(*) FROM pg_stat_activity WHERE state = 'active'
                    AND query LIKE '%' || marker || '%' AND pid <> pg_backend_pid()) >= wanted - 1 THEN
                  PERFORM pg_sleep(1);  -- stay active while the peer, polling every 50 ms, sees this one
                  RETURN true;
                END IF;
                PERFORM pg_sleep(0.05);
              END LOOP;
              RETURN false;
            END $$ LANGUAGE plpgsql""")
        )
    try:
        source = open_source(POSTGRES_URL, SourceConfig(schema=schema), registry)
        assert source.concurrency == MAX_CONCURRENT_QUERIES
        marker = f"overlap-{uuid.uuid4().hex}"
        statement = sa.text(f"SELECT \"{schema}\".met_peer('{marker}', 2, 30) AS met")
        rows = source.execute_all([statement, statement])
        assert [row.met for (row,) in rows] == [True, True]
        source.close()
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_sqlite_file_results_come_back_in_order(sqlite_file, registry):
    """Queries on a SQLite file run side by side (when there are cores for it), and each result comes
    back in the place of its statement even when the first one finishes last."""
    import threading
    import time

    source = open_source(str(sqlite_file), SourceConfig(), registry)
    source.engine.dispose()
    lock, running, most = threading.Lock(), [0], [0]

    def pause(seconds):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(seconds)
        with lock:
            running[0] -= 1
        return 0

    sa.event.listen(
        source.engine, "connect", lambda connection, record: connection.create_function("pause", 1, pause)
    )
    # The first statement is the slowest: done in submission order, the others would wait for it.
    statements = [
        sa.text(f"SELECT {i} AS i, count(*) + pause({0.3 if i == 0 else 0.02}) AS n FROM survey_responses")
        for i in range(12)
    ]
    assert [[tuple(row) for row in rows] for rows in source.execute_all(statements)] == [
        [(i, 1)] for i in range(12)
    ]
    source.close()
    if usable_cores() > 1:
        assert most[0] > 1, "no two queries ran at the same time"
    assert most[0] <= MAX_CONCURRENT_QUERIES


def test_a_failing_query_raises_source_error(sqlite_file, registry):
    source = open_source(str(sqlite_file), SourceConfig(), registry)
    statements = [
        sa.text("SELECT count(*) FROM survey_responses"),
        sa.text("SELECT count(*) FROM no_such_table"),
        sa.text("SELECT 1"),
    ]
    with pytest.raises(SourceError, match="no such table: no_such_table"):
        source.execute_all(statements)
    # The pool is intact afterwards (two statements: the concurrent path, where one was).
    assert source.execute_all([statements[0], statements[2]]) == [[(1,)], [(1,)]]
    source.close()


def test_single_connection_pools_run_one_query_at_a_time(tmp_path, registry):
    memory = open_source("sqlite://", SourceConfig(), registry)
    assert memory.concurrency == 1
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "survey_responses.csv").write_text(
        "response_id,customer_id,survey,score,responded_at\n1,1,nps,9,2026-11-16 10:00:00\n"
    )
    files = open_source(str(tmp_path / "files"), SourceConfig(), registry)
    assert files.concurrency == 1
    assert files.execute_all([sa.text("SELECT 1"), sa.text("SELECT 2")]) == [[(1,)], [(2,)]]


@pytest.mark.parametrize("failing_first", [False, True])
def test_a_failure_stops_the_other_queries_on_postgres(registry, failing_first):
    # One statement would sleep 60 s, the other fails (at run time, after 0.3 s, or at once while
    # planning): execute_all raises the failure and cancels the sleeper, or never starts it, instead
    # of waiting for it. Then no statement with the marker is left running. The elapsed time is
    # compared with the 60 s sleep: a check that the sleeper was stopped, not a speed figure.
    import time

    marker = f"sleeper-{uuid.uuid4().hex}"
    source = open_source(POSTGRES_URL, SourceConfig(), registry)
    source.execute_all([sa.text("SELECT 1"), sa.text("SELECT 2")])  # warm pooled connections
    sleeper = sa.text(f"SELECT pg_sleep(60), '{marker}' AS marker")
    failing = sa.text("SELECT 1 / 0" if failing_first else "SELECT pg_sleep(0.3), 1 / (random() * 0)::int")
    began = time.monotonic()
    with pytest.raises(SourceError, match="division by zero"):
        source.execute_all([failing, sleeper] if failing_first else [sleeper, failing])
    assert time.monotonic() - began < 30
    admin = sa.create_engine(POSTGRES_URL)
    with admin.connect() as connection:
        active = connection.execute(
            sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE :marker "
                "AND pid <> pg_backend_pid()"
            ),
            {"marker": f"%{marker}%"},
        ).scalar()
    admin.dispose()
    assert active == 0
    assert source.execute_all([sa.text("SELECT 1"), sa.text("SELECT 2")]) == [[(1,)], [(2,)]]
    source.close()


def test_a_failure_interrupts_a_long_sqlite_query(sqlite_file, registry):
    # A query counting to 10^10 would run for minutes (the 600 s timeout would stop it at last);
    # the failure beside it interrupts it instead. The elapsed time is checked against that timeout,
    # a check that the interrupt happened, not a speed figure.
    import time

    if min(usable_cores(), MAX_CONCURRENT_QUERIES) < 2:
        pytest.skip("one usable core: the queries run one at a time")
    source = open_source(str(sqlite_file), SourceConfig(timeout=600), registry)
    endless = sa.text(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 10000000000) "
        "SELECT count(*) FROM n"
    )
    began = time.monotonic()
    with pytest.raises(SourceError, match="no such table"):
        source.execute_all([endless, sa.text("SELECT * FROM no_such_table")])
    assert time.monotonic() - began < 60
    assert source.execute_all([sa.text("SELECT 1"), sa.text("SELECT 2")]) == [[(1,)], [(2,)]]
    source.close()
