"""The service in-process, with APScheduler's real scheduler and real channels (the loopback Slack):
catch-up within and beyond the grace, retries with backoff then one ops notice, a source that is
down at fire time then back, and a source down past max_delay."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from kpicore.config import parse_config
from kpicore.delivery.ledger import list_deliveries
from kpicore.digest.config import digest_specs
from kpicore.digest.run import resolve_period
from kpicore.registry import get_registry
from kpicore.scheduler import most_recent_fire
from kpicore.serve.service import Service, serve_settings
from kpicore.state import open_state
from kpicore.state import state_url as configured_state_url

SLACK_KPIS, SLACK_OPS = "C0KPIS0001", "C0OPS00002"
POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


def make_service(tmp_path, source_url, *, digest, serve=None):
    from kpicore.events import configure

    configure("text")
    config = parse_config(
        {
            "state_url": f"sqlite:///{tmp_path / 'state.db'}",
            "source": {"url": str(source_url)},
            "slack": {"retry_backoff": 0.01, "max_retries": 0},
            "serve": {"tick": "1s", **(serve or {})},
            "digests": {
                "weekly": {"metrics": ["revenue"], "trend": 0, "destinations": ["slack:#kpis"], **digest}
            },
        },
        tmp_path / "kpi.toml",
    )
    registry = get_registry()
    service = Service(
        config,
        registry,
        digest_specs(config, registry),
        open_state(configured_state_url(config)),
        serve_settings(config),
    )
    return service


def wait_until(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def wait_for_ticks(service, count: int = 2, job: str = "tick", timeout: float = 20.0) -> None:
    """Wait until the service's scheduler has run ``count`` more of its ``job`` to the end (APScheduler's
    own executed events): a window in which something unwanted could happen, ended by the service's work."""
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED

    done = threading.Semaphore(0)

    def finished(run) -> None:
        if run.job_id == job:
            done.release()

    service.scheduler.add_listener(finished, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    try:
        for _ in range(count):
            assert done.acquire(timeout=timeout), f"no {job} run in {timeout} s"
    finally:
        service.scheduler.remove_listener(finished)


@pytest.fixture
def running():
    started = []
    yield started.append
    for service in started:
        service.stop(timeout=10)


def test_a_missed_fire_within_the_grace_is_caught_up_once(tmp_path, demo_database, slack, running):
    digest = {"schedule": "0 9 * * MON", "timezone": "Europe/Berlin", "catch_up": "8d", "period": "last-week"}
    service = make_service(tmp_path, demo_database, digest=digest)
    running(service)
    service.start()
    (row,) = wait_until(lambda: [r for r in list_deliveries(service.engine) if r.status == "sent"])
    spec = service.specs["weekly"]
    missed = most_recent_fire(spec.schedule, dt.datetime.now(dt.UTC), dt.timedelta(days=8))
    assert row.period == resolve_period(spec, now=missed).label  # the period of the missed fire time
    wait_for_ticks(service)  # ticks: nothing more
    assert len(slack.posted_to(SLACK_KPIS)) == 1
    # A second process starting later catches up the same fire: the ledger says it was sent.
    second = make_service(tmp_path, demo_database, digest=digest)
    running(second)
    second.start()
    wait_for_ticks(second)
    assert (
        len(slack.posted_to(SLACK_KPIS)) == 1
        and second.metrics.fires.labels("digest", "weekly")._value.get() == 1
    )


def test_a_missed_fire_beyond_the_grace_is_not_sent(tmp_path, demo_database, slack, running):
    # Fires only on 29 February: the last one is years ago, far beyond a day's grace.
    service = make_service(tmp_path, demo_database, digest={"schedule": "0 9 29 2 *", "catch_up": "24h"})
    running(service)
    service.start()
    wait_for_ticks(service)
    assert list_deliveries(service.engine) == [] and slack.posted_to(SLACK_KPIS) == []
    assert service.health()["digests"][0]["next_fire"].startswith("2028-02-29")


def test_retries_with_backoff_then_one_notice_to_ops(tmp_path, demo_database, slack, running):
    """Each retry waits for its backoff (3 s, then 6 s; the tick runs every second), then one notice."""
    slack.fail_channels.add(SLACK_KPIS)
    service = make_service(
        tmp_path,
        demo_database,
        digest={"schedule": "* * * * *", "catch_up": "1h", "period": "2026-W47"},
        serve={"notify": ["slack:#ops"], "backoff": ["3s", "6s"], "retries": 2},
    )
    running(service)

    def attempts() -> int:
        return len([r for r in slack.calls("chat.postMessage") if r.params["channel"] == SLACK_KPIS])

    seen: list[float] = []  # when each attempt was first seen
    service.start()
    deadline = time.monotonic() + 60
    while not slack.posted_to(SLACK_OPS) and time.monotonic() < deadline:
        seen.extend(time.monotonic() for _ in range(attempts() - len(seen)))
        time.sleep(0.02)
    seen.extend(time.monotonic() for _ in range(attempts() - len(seen)))
    assert len(seen) == 3  # the fire, then 2 retries
    assert seen[1] - seen[0] >= 2.9 and seen[2] - seen[1] >= 5.9, seen  # 3 s, then 6 s (not each tick)
    (row,) = list_deliveries(service.engine, kind="digest")
    assert (row.status, row.attempts) == ("failed", 3)
    (notice,) = slack.posted_to(SLACK_OPS)
    assert "could not deliver digest 'weekly' for 2026-W47 to slack:#kpis after 3 attempts" in notice["text"]
    service.tick()  # the rule asked again, after the give-up: no fourth attempt, no second notice
    service.tick()
    assert attempts() == 3
    assert len(slack.posted_to(SLACK_OPS)) == 1


@pytest.fixture
def missing_postgres_source():
    """The URL of a PostgreSQL database that does not exist yet, and a function that creates it with orders."""
    name = f"kpi_src_test_{uuid.uuid4().hex[:10]}"
    server = sa.create_engine(f"{POSTGRES_SERVER}/test", isolation_level="AUTOCOMMIT")

    def bring_up():
        with server.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        source = sa.create_engine(f"{POSTGRES_SERVER}/{name}")
        with source.begin() as connection:
            connection.execute(
                sa.text(
                    "CREATE TABLE orders (order_id int, customer_id int, ordered_at timestamp, amount numeric)"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO orders VALUES (1, 1, '2026-11-17 10:00', 40.5), (2, 2, '2026-11-18 11:00', 59.5)"
                )
            )
        source.dispose()

    yield f"{POSTGRES_SERVER}/{name}", bring_up
    with server.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    server.dispose()


def test_a_source_down_at_fire_time_is_held_then_sent_when_it_is_back(
    tmp_path, slack, running, missing_postgres_source
):
    url, bring_up = missing_postgres_source
    service = make_service(
        tmp_path,
        url,
        digest={"schedule": "* * * * *", "catch_up": "1h", "period": "2026-W47", "max_delay": "6h"},
        serve={"backoff": ["1s"], "retries": 1},
    )
    running(service)
    service.start()
    wait_until(lambda: any(r.attempts >= 3 for r in list_deliveries(service.engine)), timeout=30)
    (row,) = list_deliveries(service.engine)
    assert row.status in ("failed", "pending") and slack.posted_to(SLACK_KPIS) == []
    assert row.attempts >= 3  # held past retries = 1: a source that is down does not count
    bring_up()
    wait_until(lambda: [r for r in list_deliveries(service.engine) if r.status == "sent"], timeout=30)
    (posted,) = slack.posted_to(SLACK_KPIS)
    assert "100" in posted["text"] or "100" in str(posted["blocks"])  # 40.5 + 59.5


def test_a_source_down_past_max_delay_sends_with_the_metrics_unavailable(
    tmp_path, slack, running, missing_postgres_source
):
    url, _ = missing_postgres_source
    service = make_service(
        tmp_path,
        url,
        digest={"schedule": "0 9 * * MON", "catch_up": "8d", "period": "2026-W47", "max_delay": "1s"},
    )
    running(service)
    service.start()
    wait_until(lambda: slack.posted_to(SLACK_KPIS))
    (posted,) = slack.posted_to(SLACK_KPIS)
    shown = str(posted["blocks"])
    assert "could not be reached" in shown and "does not exist" in shown
    (row,) = list_deliveries(service.engine)
    assert row.status == "sent"


def test_a_restarted_service_resolves_a_dead_slack_claim_and_leaves_email_unknown(
    tmp_path, demo_database, slack, smtp_server, running
):
    """A peer claimed both destinations, posted to Slack, began the SMTP DATA and died: Slack is found,
    email stays unknown (it may have arrived)."""
    from kpicore.channels.slack import METADATA_EVENT, make_client
    from kpicore.delivery import MessageKey, ledger

    service = make_service(
        tmp_path,
        demo_database,
        digest={
            "schedule": "* * * * *",
            "catch_up": "1h",
            "period": "2026-W47",
            "destinations": ["slack:#kpis", "email:owner@example.com"],
        },
        serve={"lease": "5s"},
    )
    service.config.email = smtp_server.settings()
    key = MessageKey("digest", "weekly", "2026-W47")
    for destination in ("slack:#kpis", "email:owner@example.com"):
        assert ledger.claim(
            service.engine, key, destination, owner="dead-peer", lease=dt.timedelta(seconds=0.5)
        )
    assert ledger.mark_sending(service.engine, key, "email:owner@example.com", owner="dead-peer")
    make_client().chat_postMessage(
        channel=SLACK_KPIS,
        text="Weekly — 2026-W47",
        metadata={
            "event_type": METADATA_EVENT,
            "event_payload": {"key": "digest|weekly|2026-W47||slack:#kpis", "part": 1, "parts": 1},
        },
    )
    wait_until(
        lambda: all(r.status != "pending" for r in list_deliveries(service.engine))
    )  # the leases ran out
    running(service)
    service.start()
    rows = wait_until(
        lambda: (
            {r.destination: r for r in list_deliveries(service.engine) if r.status == "sent"}.get(
                "slack:#kpis"
            )
            and list_deliveries(service.engine)
        )
    )
    statuses = {r.destination: r.status for r in rows}
    assert statuses == {"slack:#kpis": "sent", "email:owner@example.com": "unknown"}
    assert len(slack.posted_to(SLACK_KPIS)) == 1  # found by its metadata, not posted again
    wait_for_ticks(service)
    assert smtp_server.messages == [] and len(slack.posted_to(SLACK_KPIS)) == 1
