"""The due rule, table-driven: one destination's ledger row, the retry settings and the time -> what to do."""

from __future__ import annotations

import datetime as dt

import pytest

from kpicore.delivery.due import DONE, GAVE_UP, HELD, HELD_ERROR, IN_DOUBT, NEW, SEND, WAIT, decide, due
from kpicore.delivery.ledger import LedgerRow
from kpicore.serve.service import ServeSettings

T0 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
#: backoff 1 min, 5 min, then 15 min; 2 retries (3 attempts in all).
RETRIES = ServeSettings(backoff=[60, 300, 900], retries=2)


def row(status: str, attempts: int = 1, error: str | None = None, minutes_ago: float = 0) -> LedgerRow:
    return LedgerRow(
        kind="digest",
        name="weekly",
        period="2026-W47",
        segment="",
        destination="slack:#kpis",
        status=status,
        attempts=attempts,
        last_error=error,
        message_ids=[],
        updated_at=T0 - dt.timedelta(minutes=minutes_ago),
    )


DOWN = f"{HELD_ERROR}connection refused"

CASES = [
    # (row, minutes after T0, the channel can look a sent message up, decision)
    (None, 0, False, NEW),
    (row("sent"), 0, True, DONE),
    (row("pending"), 0, True, DONE),
    (row("failed", attempts=1, error="boom"), 0.5, False, WAIT),  # 1 min backoff not passed
    (row("failed", attempts=1, error="boom"), 1, False, SEND),  # exactly at the backoff
    (row("failed", attempts=2, error="boom"), 4, False, WAIT),  # the 2nd wait is 5 min
    (row("failed", attempts=2, error="boom"), 5, False, SEND),
    (row("failed", attempts=3, error="boom"), 600, False, GAVE_UP),  # 1 + 2 retries made
    (row("failed", attempts=9, error=DOWN), 10, False, WAIT),  # held: the last backoff (15 min) again
    (row("failed", attempts=9, error=DOWN), 15, False, HELD),  # held: never given up
    (row("unknown"), 0, True, SEND),  # Slack: looked up, so resent safely
    (row("unknown"), 0, False, IN_DOUBT),  # email: never resent automatically
]


@pytest.mark.parametrize(("the_row", "minutes", "can_look_up", "decision"), CASES)
def test_decide(the_row, minutes, can_look_up, decision):
    now = T0 + dt.timedelta(minutes=minutes)
    assert decide(the_row, now, RETRIES, can_look_up=can_look_up) == decision


def test_due_keeps_destination_order_and_new_only_when_asked():
    rows = {
        "slack:#a": row("failed", attempts=1, error="boom", minutes_ago=2),
        "email:b@example.com": row("unknown"),
        "slack:#c": row("sent"),
    }
    destinations = ["slack:#new", "slack:#a", "email:b@example.com", "slack:#c"]
    can_look_up = lambda destination: destination.startswith("slack:")  # noqa: E731
    assert due(rows, destinations, T0, RETRIES, can_look_up=can_look_up) == ["slack:#new", "slack:#a"]
    assert due(rows, destinations, T0, RETRIES, can_look_up=can_look_up, include_new=False) == ["slack:#a"]
