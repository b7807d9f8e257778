"""The wall clock of `kpi serve`: what its scheduler start, its fires and the delivery ledger call "now".

Every part of the service asks :func:`now` of this module at call time (never a copy imported
early), so it is the one place where the service reads the time of day.
"""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    """The current instant, aware, in UTC."""
    return dt.datetime.now(dt.UTC)
