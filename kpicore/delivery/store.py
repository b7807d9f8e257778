"""Where the delivery ledger lives: the state database's engine, and how long a claim in it lasts."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine


def ledger_engine(config, *, create: bool = True) -> Engine | None:
    """The state database holding the delivery ledger (migrated). With ``create=False``, None when
    the SQLite file does not exist yet, so read-only commands do not create it."""
    from pathlib import Path

    from kpicore.state import open_state

    url = config.resolved_state_url()
    if not create and url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if path and path != ":memory:" and not Path(path).exists():
            return None
    return open_state(url)


def claim_lease(config) -> dt.timedelta:
    """How long a claim in the ledger lives without renewal: ``[serve] lease`` (default 60 s).

    Every process sharing a state database should use the same value.
    """
    from kpicore.delivery.ledger import LEASE
    from kpicore.scheduler import parse_duration

    raw = (getattr(config, "serve", None) or {}).get("lease")
    return LEASE if raw is None else dt.timedelta(seconds=parse_duration(raw, "kpi.toml: [serve].lease"))
