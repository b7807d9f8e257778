"""Slack misbehaving under a running `kpi serve`: 429 with Retry-After, 500s, answers slower than the
client's timeout, dropped connections; each for a while, then it recovers. The digest must arrive
exactly once."""

from __future__ import annotations

import time

import pytest

from tests.conftest import SLACK_TOKEN
from tests.faults import tally
from tests.faults.harness import expected_keys, settle, write_config
from tests.test_serve import Serve, environment

DESTINATIONS = ["slack:#kpis"]


def break_slack(fake, fault: str) -> None:
    if fault == "429-retry-after":
        fake.rate_limit_next = 6  # more than one send's retries: the service's backoff takes over
    elif fault == "500-then-recovery":
        fake.fail_next_posts = 5
    elif fault == "slow-past-client-timeout":
        fake.slow_next_posts, fake.slow_delay = 2, 2.5  # stored, but answered after the 1 s timeout
    elif fault == "dropped-connections":
        fake.drop_next = 4
    elif fault == "dropped-after-store":
        fake.drop_next, fake.drop_after_store = 2, True  # stored, then the answer never comes
    else:
        raise AssertionError(fault)


@pytest.mark.parametrize(
    "fault",
    [
        "429-retry-after",
        "500-then-recovery",
        "slow-past-client-timeout",
        "dropped-connections",
        "dropped-after-store",
    ],
)
def test_slack_faults_deliver_exactly_once(tmp_path, demo_database, slack_server, servers, fault):
    fake = slack_server.fake
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    write_config(tmp_path, demo_database, state_url=state_url, destinations=DESTINATIONS, slack_timeout=1)
    break_slack(fake, fault)
    serve = Serve(tmp_path, environment(slack_server))
    servers.append(serve)
    serve.started()
    statuses = settle(state_url, DESTINATIONS, timeout=45)
    time.sleep(2.5)  # more fires of the same period: nothing more may be posted
    assert serve.stop() == 0
    statuses = tally.ledger_statuses(state_url)
    counts = tally.count(f"slack {fault}", fault, expected_keys(DESTINATIONS), statuses, slack=fake)
    tally.record(counts)
    (only,) = counts
    assert (only.delivered, only.duplicated, only.lost, only.status) == (1, 0, 0, "sent"), (
        only,
        serve.text(),
    )
    assert SLACK_TOKEN not in serve.text()
