"""Where the delivery ledger lives: the state database's engine, and how long a claim in it lasts."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Literal, overload

from kpicore.settings import claim_lease as _claim_lease
from kpicore.state import state_url

if TYPE_CHECKING:
    from sqlalchemy import Engine


@overload
def ledger_engine(config, *, create: Literal[True] = True) -> Engine: ...
@overload
def ledger_engine(config, *, create: bool) -> Engine | None: ...
def ledger_engine(config, *, create: bool = True) -> Engine | None:
    """The state database holding the delivery ledger (migrated). With ``create=False``, None when
    the SQLite file does not exist yet, so read-only commands do not create it."""
    from kpicore.dialects.urls import sqlite_file
    from kpicore.state import open_state

    url = state_url(config)
    if not create and (path := sqlite_file(url)) is not None and not path.exists():
        return None
    return open_state(url)


def claim_lease(config) -> dt.timedelta:
    """How long a claim in the ledger lives without renewal: ``[serve] lease`` (default 60 s).

    Every process sharing a state database should use the same value.
    """
    return _claim_lease(config)
