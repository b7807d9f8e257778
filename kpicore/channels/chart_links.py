"""Charts at unguessable links: ``[serve] public_url`` and ``[serve] chart_ttl``.

A channel that cannot attach a picture (a Teams card shows images only by URL) publishes each chart
PNG here: a random token of 256 bits, kept in the state database with the PNG and its expiry, so any
`kpi serve` process on that database (behind a load balancer) answers ``GET /charts/<token>.png``.
Only a SHA-256 of the token is stored: whoever reads the database cannot rebuild a link. An unknown
or expired token gets 404, and nothing lists the charts. Without ``public_url`` nothing is published
and the channel keeps its text sparkline.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from kpicore.errors import ConfigError
from kpicore.settings import config_name, parse_duration

if TYPE_CHECKING:
    from sqlalchemy import Engine, MetaData, Table

#: How long a chart link stays valid unless ``[serve] chart_ttl`` says otherwise.
DEFAULT_TTL = "90d"
#: Bytes of randomness in a token (256 bits; the link is the only secret protecting the chart).
TOKEN_BYTES = 32
PATH_PREFIX = "/charts/"
TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def chart_links_table(metadata: MetaData) -> Table:
    """The live definition of the ``chart_links`` table on ``metadata``."""
    from sqlalchemy import Column, DateTime, LargeBinary, String, Table
    from sqlalchemy.dialects import mysql

    if "chart_links" in metadata.tables:
        return metadata.tables["chart_links"]
    return Table(
        "chart_links",
        metadata,
        Column("token_hash", String(64), primary_key=True),
        Column("png", LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb"), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
    )


def check_public_url(value: Any, where: str) -> str:
    """``public_url`` without a trailing slash; ConfigError unless it is https (or http on loopback)
    with a host and no query or fragment."""
    parsed = urlparse(value) if isinstance(value, str) else None
    loopback = parsed is not None and parsed.scheme == "http" and (parsed.hostname or "") in LOOPBACK_HOSTS
    if (
        parsed is None
        or not ((parsed.scheme == "https" and parsed.hostname) or loopback)
        or parsed.query
        or parsed.fragment
    ):
        raise ConfigError(
            f"{where}: {value!r}: use the https:// address where `kpi serve` is reachable from outside, "
            'e.g. "https://kpi.example.com" (http:// only on 127.0.0.1)'
        )
    return value.rstrip("/")


@dataclass(frozen=True)
class ChartLinks:
    """Where published charts are served (``base``), how long they stay, and the state database."""

    base: str
    ttl: dt.timedelta
    state_url: str = field(repr=False)  # may hold a password

    def publish(self, png: bytes, engine: Engine | None = None) -> str:
        """Store ``png`` under a new token; its public URL. Expired charts are removed on the way."""
        from sqlalchemy import delete, insert

        from kpicore import clock
        from kpicore.state import open_state

        engine = engine or open_state(self.state_url)
        table = chart_links_table(_metadata())
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now = clock.now()
        with engine.begin() as connection:
            connection.execute(delete(table).where(table.c.expires_at < now))
            connection.execute(
                insert(table).values(token_hash=_hash(token), png=png, expires_at=now + self.ttl)
            )
        return f"{self.base}{PATH_PREFIX}{token}.png"


def chart_links(config) -> ChartLinks | None:
    """The chart links of ``config``'s ``[serve]``; None without ``public_url``. ConfigError for a bad
    ``public_url`` or ``chart_ttl``."""
    from kpicore.state import state_url

    serve = getattr(config, "serve", None) or {}
    where = f"{config_name(config)}: [serve]"
    ttl = chart_ttl(config)
    if "public_url" not in serve:
        return None
    base = check_public_url(serve["public_url"], f"{where}.public_url")
    return ChartLinks(base, ttl, state_url(config))


def chart_ttl(config) -> dt.timedelta:
    """``[serve] chart_ttl`` (default 90 days), in the one duration grammar."""
    serve = getattr(config, "serve", None) or {}
    where = f"{config_name(config)}: [serve].chart_ttl"
    return dt.timedelta(seconds=parse_duration(serve.get("chart_ttl", DEFAULT_TTL), where))


def chart_link_problems(config) -> list[str]:
    """One line per problem in ``[serve] public_url`` and ``chart_ttl`` (for `kpi check`)."""
    problems = []
    serve = getattr(config, "serve", None) or {}
    try:
        chart_ttl(config)
    except ConfigError as error:
        problems.append(str(error))
    if "public_url" in serve:
        try:
            check_public_url(serve["public_url"], f"{config_name(config)}: [serve].public_url")
        except ConfigError as error:
            problems.append(str(error))
    return problems


def published(engine: Engine, name: str) -> bytes | None:
    """The PNG at ``/charts/<name>`` while its link is valid, else None (unknown, expired, malformed)."""
    from sqlalchemy import select

    from kpicore import clock

    token = name.removesuffix(".png")
    if not name.endswith(".png") or not TOKEN.match(token):
        return None
    table = chart_links_table(_metadata())
    with engine.connect() as connection:
        row = connection.execute(
            select(table.c.png, table.c.expires_at).where(table.c.token_hash == _hash(token))
        ).first()
    if row is None:
        return None
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=dt.UTC)
    return bytes(row.png) if expires > clock.now() else None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_METADATA: list[MetaData] = []


def _metadata() -> MetaData:
    from sqlalchemy import MetaData

    if not _METADATA:
        _METADATA.append(MetaData())
    return _METADATA[0]
