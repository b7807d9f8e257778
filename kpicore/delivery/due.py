"""What is due: the one rule that decides, from a message's ledger rows, the retry settings and the time,
which destinations to send to now. Pure: no database, no clock, no channel calls.

A destination with no row is new (sent by a fire or its catch-up); a ``failed`` row is retried once the
backoff after its last attempt has passed, until ``retries`` retries were made (then it is given up); a
row that failed because the source could not be reached is held instead, retried with the same backoff
but never given up (the caller stops once ``max_delay`` has passed); a ``lapsed`` claim (its sender
died before handing the message over) is due; an ``unknown`` row (the sender died while handing it
over) is due only on a channel that can look the sent message up, else it waits for a person; ``pending`` and ``sent`` rows are
not due. The rule is the same for every message kind.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

#: What a compute failure's error starts with when the source could not be reached (held, not counted).
SOURCE_DOWN = "source unavailable: "
HELD_ERROR = f"compute failed: {SOURCE_DOWN}"

NEW, SEND, WAIT, HELD, GAVE_UP, IN_DOUBT, DONE = "new", "send", "wait", "held", "gave_up", "in_doubt", "done"
#: The decisions that mean "send now" (``new`` only when new destinations are asked for).
SENDING = frozenset({SEND, HELD})


class Retries(Protocol):
    """The retry settings the rule reads (``[serve] backoff`` and ``retries``)."""

    @property
    def max_attempts(self) -> int: ...

    def wait_after(self, attempts: int) -> dt.timedelta: ...


class Row(Protocol):
    """The ledger row fields the rule reads (``kpicore.delivery.ledger.LedgerRow``)."""

    status: str
    attempts: int
    last_error: str | None
    updated_at: dt.datetime


def is_held(row: Row) -> bool:
    """The row failed because the source could not be reached."""
    return (row.last_error or "").startswith(HELD_ERROR)


def decide(row: Row | None, now: dt.datetime, retries: Retries, *, can_look_up: bool) -> str:
    """What to do with one destination of a message: one of NEW, SEND, WAIT, HELD (send: the source was
    down), GAVE_UP, IN_DOUBT (unknown, on a channel that cannot look it up) and DONE (sent or pending)."""
    if row is None:
        return NEW
    if row.status == "failed":
        if not is_held(row) and row.attempts >= retries.max_attempts:
            return GAVE_UP
        if now < row.updated_at + retries.wait_after(row.attempts):
            return WAIT
        return HELD if is_held(row) else SEND
    if row.status == "lapsed":  # a claim that lapsed before the hand-over: anyone sends it
        return SEND
    if row.status == "unknown":
        return SEND if can_look_up else IN_DOUBT
    return DONE


def due(
    rows: Mapping[str, Row],
    destinations: Iterable[str],
    now: dt.datetime,
    retries: Retries,
    *,
    can_look_up: Callable[[str], bool],
    include_new: bool = True,
) -> list[str]:
    """The ``destinations`` to send to now, in their order, given the message's ledger rows by destination
    (``include_new``: also those never attempted)."""
    wanted = SENDING | ({NEW} if include_new else set())
    return [
        destination
        for destination in destinations
        if decide(rows.get(destination), now, retries, can_look_up=can_look_up(destination)) in wanted
    ]
