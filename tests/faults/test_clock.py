"""The clock under a running `kpi serve`: the machine clock jumps over a fire, jumps back during a send and
forward again, and DST changes while it runs (Europe/Berlin, both directions). The service runs on the test
clock (tests/support/clocked_serve.py: a file holding an offset in seconds, re-read on every call, which the test
rewrites to make the clock jump). The digest ``weekly`` is a daily digest of ``yesterday``: each scenario
expects exactly one message, for the period of the fire, and no message for any other period."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from zoneinfo import ZoneInfo

import pytest

from tests.faults import tally
from tests.faults.harness import settle, write_config
from tests.test_serve import SLACK_KPIS, Serve, environment

DESTINATIONS = ["slack:#kpis"]
UTC = dt.UTC


class FakeClock:
    """The offset file of one `kpi serve`: ``set(instant)`` makes its clock read ``instant`` now."""

    def __init__(self, path) -> None:
        self.path = path

    def set(self, instant: dt.datetime) -> None:
        offset = (instant - dt.datetime.now(UTC)).total_seconds()
        spare = self.path.with_suffix(".new")
        spare.write_text(f"{offset:.3f}")
        spare.replace(self.path)  # atomic: the service never reads a half-written file

    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC) + dt.timedelta(seconds=float(self.path.read_text()))

    def wait_until(self, instant: dt.datetime) -> None:
        """Sleep (real time) until this clock reads ``instant``."""
        time.sleep(max((instant - self.now()).total_seconds(), 0.0))


def posted_keys(fake) -> Counter:
    """Ledger key -> copies of every digest message posted to #kpis (part 1 of each)."""
    return Counter(
        m["metadata"]["event_payload"]["key"]
        for m in fake.posted_to(SLACK_KPIS)
        if (m.get("metadata") or {}).get("event_payload", {}).get("part") == 1
    )


def start(
    tmp_path, demo_database, slack_server, servers, schedule: str, first: dt.datetime
) -> tuple[Serve, FakeClock]:
    """`kpi serve` on a test clock reading ``first`` once it listens (its start is spent a minute earlier,
    so the catch-up on start has nothing to send)."""
    clock = FakeClock(tmp_path / "clock")
    clock.set(first - dt.timedelta(minutes=1))
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    write_config(
        tmp_path,
        demo_database,
        state_url=state_url,
        destinations=DESTINATIONS,
        period="yesterday",
        when=f'schedule = "{schedule}"\ncatch_up = "1h"',
        timezone="Europe/Berlin",
    )
    serve = Serve(tmp_path, environment(slack_server), clock=clock.path)
    servers.append(serve)
    serve.started()
    clock.set(first)
    return serve, clock


def finish(scenario: str, run: str, tmp_path, serve: Serve, fake, period: str) -> None:
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    assert serve.stop() == 0, serve.text()
    expected = [("digest", "weekly", period, d) for d in DESTINATIONS]
    counts = tally.count(scenario, run, expected, tally.ledger_statuses(state_url), slack=fake)
    tally.record(counts)
    (only,) = counts
    assert (only.delivered, only.duplicated, only.lost, only.status) == (1, 0, 0, "sent"), (
        only,
        serve.text(),
    )
    assert posted_keys(fake) == Counter({f"digest|weekly|{period}||slack:#kpis": 1}), serve.text()


def test_the_clock_jumps_forward_over_a_fire_then_back_and_past_it_again(
    tmp_path, demo_database, slack_server, servers
):
    """09:00 Berlin is jumped over (08:58 -> 09:28): fired once at once; then back an hour and past 09:00
    again: nothing more."""
    fire = dt.datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # 09:00 in Berlin (CET)
    serve, clock = start(
        tmp_path, demo_database, slack_server, servers, "0 9 * * *", fire - dt.timedelta(minutes=2)
    )
    time.sleep(1.5)
    assert posted_keys(slack_server.fake) == Counter()
    clock.set(fire + dt.timedelta(minutes=28))  # the jump: 09:00 never happened on this clock
    settle(f"sqlite:///{tmp_path / 'state.db'}", DESTINATIONS, timeout=20)
    clock.set(fire - dt.timedelta(minutes=32))  # back an hour
    time.sleep(1.5)
    clock.set(fire - dt.timedelta(seconds=2))  # and through 09:00 a second time
    clock.wait_until(fire + dt.timedelta(seconds=3))
    finish(
        "clock jumps forward over the fire, back, past it again",
        "0900-Berlin-2026-11-24",
        tmp_path,
        serve,
        slack_server.fake,
        "2026-11-23",
    )


def test_the_clock_jumps_back_during_the_send_then_forward(tmp_path, demo_database, slack_server, servers):
    """The clock goes back an hour while the post is in flight, then forward two: one message, its period
    the fire's."""
    fake = slack_server.fake
    fake.post_delay = 1.5
    fire = dt.datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    serve, clock = start(
        tmp_path, demo_database, slack_server, servers, "0 9 * * *", fire - dt.timedelta(seconds=2)
    )
    deadline = time.monotonic() + 20
    while not fake.calls("chat.postMessage") and time.monotonic() < deadline:
        time.sleep(0.02)
    clock.set(clock.now() - dt.timedelta(hours=1))
    settle(f"sqlite:///{tmp_path / 'state.db'}", DESTINATIONS, timeout=20)
    fake.post_delay = 0.0
    clock.set(clock.now() + dt.timedelta(hours=2))
    time.sleep(3)  # ticks on the far side of the jump: nothing is due again
    finish(
        "clock jumps back during the send, then forward",
        "0900-Berlin-2026-11-24",
        tmp_path,
        serve,
        fake,
        "2026-11-23",
    )


@pytest.mark.parametrize(
    "change, fire, repeat, period",
    [
        # Fall back, 25 Oct 2026: 02:30 Berlin happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET).
        (
            "fall-back-2026-10-25",
            dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
            dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
            "2026-10-24",
        ),
        # Spring forward, 29 Mar 2026: 02:30 Berlin does not exist; it fires at 03:00 CEST (01:00 UTC), and not
        # again at 03:30 CEST (APScheduler's own cron trigger would fire there).
        (
            "spring-forward-2026-03-29",
            dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
            dt.datetime(2026, 3, 29, 1, 30, tzinfo=UTC),
            "2026-03-28",
        ),
    ],
)
def test_a_dst_change_during_uptime_fires_once_for_the_right_day(
    tmp_path, demo_database, slack_server, servers, change, fire, repeat, period
):
    serve, clock = start(
        tmp_path, demo_database, slack_server, servers, "30 2 * * *", fire - dt.timedelta(seconds=3)
    )
    settle(f"sqlite:///{tmp_path / 'state.db'}", DESTINATIONS, timeout=20)
    local = fire.astimezone(ZoneInfo("Europe/Berlin"))  # 02:30+02:00 (fall) or 03:00+02:00 (spring)
    assert f"fired digest=weekly period={period} scheduled={local.isoformat()}" in serve.text(), serve.text()
    clock.set(repeat - dt.timedelta(seconds=2))  # skip the quiet hour, then through the repeated/later 02:30
    clock.wait_until(repeat + dt.timedelta(seconds=3))
    finish(
        f"DST {change.rsplit('-', 3)[0]} during uptime", change, tmp_path, serve, slack_server.fake, period
    )
