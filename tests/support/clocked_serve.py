"""`kpi` on a test clock, for the clock fault scenarios: ``python -m tests.support.clocked_serve OFFSET_FILE
serve --port 0 --config kpi.toml``.

``OFFSET_FILE`` holds a number of seconds: the service's clock (``kpicore.clock.now``, read by its
fires, its scheduler start and its delivery ledger) and APScheduler's own "now" run that far ahead of
(or, negative, behind) the machine's, re-read on every call. The test rewrites the file atomically
(another file, then a rename) to make the clock jump (an NTP step, a resumed laptop) or cross a DST
change without waiting for one. A read that finds the file missing or half-written keeps the last
offset, so the clock never snaps back by accident. After patching, this runs kpicore's own console
entry point with the remaining arguments: the process is a real `kpi serve`.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path


class OffsetClock:
    """The machine's clock plus the offset in a file, re-read on every call."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.last = dt.timedelta(0)

    def offset(self) -> dt.timedelta:
        try:
            self.last = dt.timedelta(seconds=float(self.path.read_text(encoding="utf-8").strip()))
        except (OSError, ValueError):
            pass
        return self.last

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset()


def install(clock: OffsetClock) -> None:
    """Make kpicore and APScheduler read ``clock``.

    APScheduler 3 asks ``datetime.now(tz)`` of its module ``apscheduler.schedulers.base`` when it
    decides which jobs are due; a real clock jump changes that answer, so the test clock must too.
    Its waits are on a monotonic timer, like a real jump, so they are left alone.
    """
    from apscheduler.schedulers import base

    import kpicore.clock

    class _TestClockDatetime(dt.datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[override]
            moment = clock.now()
            return moment.astimezone(tz) if tz is not None else moment.astimezone().replace(tzinfo=None)

    kpicore.clock.now = clock.now  # type: ignore[assignment]
    base.datetime = _TestClockDatetime  # type: ignore[misc]


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        sys.exit("usage: python -m tests.support.clocked_serve OFFSET_FILE serve [kpi serve options]")
    install(OffsetClock(Path(argv[0])))
    from kpicore.cli import main as kpi

    kpi(argv[1:])


if __name__ == "__main__":
    main(sys.argv[1:])
