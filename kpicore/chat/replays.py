"""Each verified request signature is accepted once: the replay guard of ``POST /slack/events``.

A signed request carries its timestamp and signature; Slack refuses a timestamp older than 5
minutes, so a key (timestamp and signature) only has to be remembered that long. The claim is
made once the signature has been checked and before anything runs, atomically: of ten copies of
one request sent at once exactly one is accepted. In the state database the claim is a row with a
unique key, so several processes behind a load balancer refuse each other's replays; when that
database cannot be reached the guard cannot tell and the request is refused (503).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Engine, MetaData, Table

#: Slack's window for a request timestamp; a signature seen within it is not accepted twice.
REPLAY_WINDOW = 5 * 60


class GuardUnavailable(Exception):
    """The replay guard's store could not be reached: the request must be refused."""


def request_key(timestamp: str, signature: str) -> str:
    """The stored key of one verified (timestamp, signature) pair."""
    return hashlib.sha256(f"{timestamp}:{signature}".encode()).hexdigest()


class MemoryReplayGuard:
    """The claims of this process alone (for an app served without a state database)."""

    def __init__(self, window: float = REPLAY_WINDOW) -> None:
        self.window = window
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def claim(self, timestamp: str, signature: str) -> bool:
        """True for the first claim of this pair within the window, False for a replay."""
        key, now = request_key(timestamp, signature), time.monotonic()
        with self._lock:
            for old in [k for k, at in self._seen.items() if at < now - self.window]:
                del self._seen[old]
            if key in self._seen:
                return False
            self._seen[key] = now
            return True


def request_claims_table(metadata: MetaData) -> Table:
    """The live definition of the ``request_claims`` table on ``metadata``."""
    from sqlalchemy import Column, DateTime, String, Table

    if "request_claims" in metadata.tables:
        return metadata.tables["request_claims"]
    return Table(
        "request_claims",
        metadata,
        Column("request_key", String(64), primary_key=True),
        Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    )


class DatabaseReplayGuard:
    """Claims as rows of the state database, shared by every process using it."""

    def __init__(self, open_engine, window: float = REPLAY_WINDOW) -> None:
        from sqlalchemy import MetaData

        self._open_engine = open_engine  # called per claim: an engine that failed to open is retried
        self.window = window
        self._table = request_claims_table(MetaData())

    def claim(self, timestamp: str, signature: str) -> bool:
        """True for the first claim of this pair in the database, False for a replay; GuardUnavailable
        when the database does not answer."""
        from sqlalchemy import delete, insert
        from sqlalchemy.exc import IntegrityError, SQLAlchemyError

        from kpicore.errors import KpiError

        now = dt.datetime.now(dt.UTC)
        try:
            engine: Engine = self._open_engine()
            with engine.begin() as connection:
                connection.execute(delete(self._table).where(self._table.c.expires_at < now))
            with engine.begin() as connection:
                connection.execute(
                    insert(self._table).values(
                        request_key=request_key(timestamp, signature),
                        expires_at=now + dt.timedelta(seconds=self.window),
                    )
                )
        except IntegrityError:
            return False
        except (SQLAlchemyError, KpiError, OSError) as error:
            raise GuardUnavailable(type(error).__name__) from None
        return True
