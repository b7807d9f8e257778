"""The wall clock of `kpi serve`: what its scheduler, its fires and the delivery ledger call "now".

FOR TESTS ONLY: with ``KPI_TEST_CLOCK`` set to the path of a file holding a number of seconds,
this clock runs that far ahead of (or, negative, behind) the machine's clock, re-read on every
call. The fault suite rewrites the file while a `kpi serve` runs (atomically: another file, then a
rename) to make its clock jump (an NTP step, a resumed laptop) or to cross a DST change without
waiting for one. A file that was never readable means no offset. Without the variable (always, in
production) this is ``datetime.now(UTC)`` and nothing else.
"""

from __future__ import annotations

import datetime as dt
import os

#: The environment variable naming the offset file (tests only).
TEST_CLOCK_ENV = "KPI_TEST_CLOCK"


_last = dt.timedelta(0)


def offset() -> dt.timedelta:
    """How far the test clock runs ahead of the machine's (zero without ``KPI_TEST_CLOCK``).

    The file should be replaced atomically (write another, then rename); a read that finds it
    missing, empty or half-written keeps the last offset read, so the clock never snaps back to
    the machine's by accident.
    """
    global _last
    path = os.environ.get(TEST_CLOCK_ENV)
    if not path:
        return dt.timedelta(0)
    try:
        with open(path, encoding="utf-8") as handle:
            _last = dt.timedelta(seconds=float(handle.read().strip()))
    except (OSError, ValueError):
        pass
    return _last


def now() -> dt.datetime:
    """The current instant, aware, in UTC."""
    return dt.datetime.now(dt.UTC) + offset()


def install_in_apscheduler() -> None:
    """Make APScheduler's scheduler loop read this clock too (only when ``KPI_TEST_CLOCK`` is set).

    APScheduler 3 asks ``datetime.now(tz)`` of its module ``apscheduler.schedulers.base`` when it
    decides which jobs are due; a real clock jump changes that answer, so the test clock must too.
    Its waits are on a monotonic timer, like a real jump, so they are left alone.
    """
    if not os.environ.get(TEST_CLOCK_ENV):
        return
    from apscheduler.schedulers import base

    class _TestClockDatetime(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            moment = now()
            return moment.astimezone(tz) if tz is not None else moment.astimezone().replace(tzinfo=None)

    base.datetime = _TestClockDatetime
