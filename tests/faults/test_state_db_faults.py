"""The state database fails under a running `kpi serve`: a SQLite state file locked by another process
(longer than SQLite's 5 s busy wait) during a send and at the fire, and the state PostgreSQL (the test's own
cluster) stopped during a send, then started. The service keeps running, says so in one log line per
outage, and every message goes out once, recorded as ``sent`` (the email too: its send is recorded late,
not left ``unknown``)."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time

import pytest

from tests.faults import tally
from tests.faults.harness import expected_keys, settle, write_config
from tests.faults.test_clock import FakeClock, posted_keys
from tests.faults.test_source_down import Cluster
from tests.test_serve import Serve, environment

DESTINATIONS = ["slack:#kpis", "email:owner@example.com"]
LOCKED_FOR = 8.0  # seconds: longer than SQLite's busy timeout (5 s), so the service's writes fail


class Locker:
    """Another process's write lock on a SQLite file (BEGIN EXCLUSIVE), held for ``seconds`` in a thread."""

    def __init__(self, path) -> None:
        self.path, self.thread = path, None
        self.locked, self.released = threading.Event(), threading.Event()

    def hold(self, seconds: float) -> None:
        def run():
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            try:
                connection.execute("BEGIN EXCLUSIVE")
                self.locked.set()
                time.sleep(seconds)
                connection.execute("ROLLBACK")
            finally:
                connection.close()
                self.released.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert self.locked.wait(30), "could not lock the state database"


def wait_for_post(fake, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not fake.calls("chat.postMessage") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.calls("chat.postMessage"), "the digest was never posted"


def check(scenario: str, run: str, state_url: str, serve: Serve, fake, smtp_server, *, outage_line: str):
    statuses = settle(state_url, DESTINATIONS, timeout=60)
    time.sleep(2.2)  # more fires of the same period: nothing more may go out
    assert serve.stop() == 0, serve.text()
    counts = tally.count(
        scenario,
        run,
        expected_keys(DESTINATIONS),
        tally.ledger_statuses(state_url),
        slack=fake,
        smtp_messages=smtp_server.messages,
    )
    tally.record(counts)
    log = serve.text()
    for one in counts:
        assert (one.delivered, one.duplicated, one.lost, one.status) == (1, 0, 0, "sent"), (
            one,
            statuses,
            log,
        )
    assert "Traceback" not in log
    # One line for the outage where the send waited for it (the claim check before a part, or the
    # record after the send), not one per fire, tick or renewal.
    waits = log.count(outage_line) + log.count(
        outage_line.replace("could not record that", "could not check the claim on").replace(
            " went to ", " to "
        )
    )
    assert 1 <= waits <= 2, log
    return log


def test_sqlite_state_locked_during_the_send(tmp_path, demo_database, slack_server, smtp_server, servers):
    fake = slack_server.fake
    fake.post_delay = 1.0  # the lock is taken while the post is in flight: its record is what fails
    state = tmp_path / "state.db"
    write_config(
        tmp_path, demo_database, state_url=f"sqlite:///{state}", destinations=DESTINATIONS, smtp=smtp_server
    )
    serve = Serve(tmp_path, environment(slack_server))
    servers.append(serve)
    serve.started()
    wait_for_post(fake)
    Locker(state).hold(LOCKED_FOR)
    log = check(
        "state SQLite locked during the send",
        f"locked-{LOCKED_FOR:.0f}s-while-posting",
        f"sqlite:///{state}",
        serve,
        fake,
        smtp_server,
        outage_line="state database: could not record that digest weekly 2026-W47 went to slack:#kpis "
        "(database is locked)",
    )
    # The send waited for the lock where it met it: at the claim check before a part, or at the record
    # after the send (then a line says it was recorded in the end).
    assert (
        "state database: recorded that digest weekly 2026-W47 went to slack:#kpis" in log
        or "state database: could not check the claim on digest weekly 2026-W47 to slack:#kpis" in log
    ), log


def test_sqlite_state_locked_at_the_fire(tmp_path, demo_database, slack_server, smtp_server, servers):
    """A daily cron fire finds the state database locked: nothing is claimed, so nothing would ever retry it
    (the next fire is a day later) unless the tick sends what the fire could not."""
    fire = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)  # 09:00 in Berlin
    clock = FakeClock(tmp_path / "clock")
    clock.set(fire - dt.timedelta(minutes=1))
    state = tmp_path / "state.db"
    write_config(
        tmp_path,
        demo_database,
        state_url=f"sqlite:///{state}",
        destinations=DESTINATIONS,
        smtp=smtp_server,
        period="yesterday",
        when='schedule = "0 9 * * *"\ncatch_up = "1h"',
        timezone="Europe/Berlin",
    )
    serve = Serve(tmp_path, environment(slack_server), clock=clock.path)
    servers.append(serve)
    serve.started()
    clock.set(fire - dt.timedelta(seconds=1))
    Locker(state).hold(LOCKED_FOR)  # from just before the fire to 7 s after it
    keys = [("digest", "weekly", "2026-11-23", d) for d in DESTINATIONS]
    settle(f"sqlite:///{state}", DESTINATIONS, timeout=60, keys=keys)
    time.sleep(2)
    assert serve.stop() == 0, serve.text()
    counts = tally.count(
        "state SQLite locked at the fire",
        f"locked-{LOCKED_FOR:.0f}s-over-0900",
        keys,
        tally.ledger_statuses(f"sqlite:///{state}"),
        slack=slack_server.fake,
        smtp_messages=smtp_server.messages,
    )
    tally.record(counts)
    log = serve.text()
    for one in counts:
        assert (one.delivered, one.duplicated, one.lost, one.status) == (1, 0, 0, "sent"), (one, log)
    assert posted_keys(slack_server.fake) == {"digest|weekly|2026-11-23||slack:#kpis": 1}
    assert log.count("state_db_down") == 1 and "database is locked" in log and "state_db_back" in log, log
    assert "Traceback" not in log


@pytest.fixture
def state_cluster():
    owned = Cluster()
    owned.start()
    try:
        yield owned
    finally:
        owned.remove()


def test_postgres_state_stopped_during_the_send_then_started(
    tmp_path, demo_database, slack_server, smtp_server, servers, state_cluster
):
    fake = slack_server.fake
    fake.post_delay = 1.0
    state_url = state_cluster.url()
    write_config(tmp_path, demo_database, state_url=state_url, destinations=DESTINATIONS, smtp=smtp_server)
    serve = Serve(tmp_path, environment(slack_server))
    servers.append(serve)
    serve.started()
    wait_for_post(fake)
    state_cluster.stop()
    time.sleep(4.0)
    state_cluster.start()
    check(
        "state PostgreSQL stopped during the send, then started",
        "down-4s-while-posting",
        state_url,
        serve,
        fake,
        smtp_server,
        outage_line="state database: could not record that digest weekly 2026-W47 went to slack:#kpis",
    )
