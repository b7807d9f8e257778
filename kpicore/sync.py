"""The sync connector kind: copy a REST source into a local staging database, so metrics still run in SQL.

A ``SyncConnector`` handles a URL scheme (``agilecrm://``, ``hubspot://``) like any connector, but its
``open`` reads the *staging database* (``[sync] url``; SQLite ``kpi-sync.db`` beside kpi.toml by default),
which ``run_sync`` (``kpi sync``) fills from the API:

- Each of the connector's ``Stream`` objects (contacts, deals, tickets) is fetched page by page, since the
  watermark of the last complete sync (the API's updated time) unless the sync is full. Every page is
  one transaction into a pending area, with the cursor of the next page: a sync that fails part-way
  keeps what it committed and the next ``kpi sync`` resumes from that cursor.
- Only when every stream is complete is the pending area published, in one transaction: the raw objects
  are merged (inserted, updated, deleted; a full sync also deletes what the API no longer lists) and the
  entity tables (customers, orders, ...) are rebuilt from them by the connector's mapping. Readers only
  ever read the entity tables, so they see the last complete sync and nothing half-written.

``sync_if_stale`` is what ``kpi compute`` and the digest commands call before they open the source:
it syncs when the staging data is older than ``[sync] max_age``. ``last_sync`` tells a reader (``/kpi``)
how old the data is without syncing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .connectors import Connector
from .dialects.urls import database_url, sqlite_file
from .errors import ConfigError, KpiError, SourceError
from .settings import check_declared_tables, check_keys, parse_duration

SYNC_KEYS = ("url", "max_age", "page_size", "timeout", "retries", "max_retry_wait")
DEFAULT_STAGING = "kpi-sync.db"
#: Seconds subtracted from a watermark before an incremental fetch, so records updated in the same
#: second as the last one seen are fetched again (and deduplicated by id) rather than missed.
WATERMARK_OVERLAP = 1.0


# -- settings -------------------------------------------------------------------------------------------
@dataclass
class SyncSettings:
    """The ``[sync]`` table of kpi.toml."""

    url: str
    max_age: float = 3600.0
    page_size: int = 100
    timeout: float = 30.0
    retries: int = 4
    max_retry_wait: float = 120.0

    @classmethod
    def from_source(cls, source_config) -> SyncSettings:
        """The settings from ``[sync]`` (kept on the ``[source]`` settings, whose source they serve)."""
        raw = getattr(source_config, "sync", None) or {}
        base_dir = source_config.base_dir
        where = "kpi.toml: [sync]"
        check_keys(raw, SYNC_KEYS, where)
        url = raw.get("url", DEFAULT_STAGING)
        if not isinstance(url, str) or not url:
            raise ConfigError(f"{where}: url must be a SQLAlchemy URL or a SQLite file, got {url!r}")
        url = database_url(url, base_dir)
        settings = cls(url=url)
        if "max_age" in raw:
            settings.max_age = parse_duration(raw["max_age"], f"{where}: max_age", zero=True)
        for key in ("timeout", "max_retry_wait"):  # documented in seconds: a number or a duration
            if key in raw:
                setattr(settings, key, parse_duration(raw[key], f"{where}: {key}", seconds=True))
        for key, kind in (("page_size", int), ("retries", int)):
            if key in raw:
                value = raw[key]
                if (
                    isinstance(value, bool)
                    or not isinstance(value, kind)
                    or value < (0 if key == "retries" else 1)
                ):
                    raise ConfigError(f"{where}: {key} must be a positive number, got {value!r}")
                setattr(settings, key, value)
        return settings


# -- HTTP -------------------------------------------------------------------------------------------------
class CursorExpired(SourceError):
    """The API no longer accepts a paging cursor: the stream starts again from its first page."""


@dataclass
class JsonClient:
    """A small JSON-over-HTTP client for REST sources: retries, Retry-After, timeouts, clear errors.

    ``display`` names the source in messages (never a secret); ``headers`` carry the credentials.
    ``sleep`` is injectable so tests can count waits without waiting.
    """

    display: str
    headers: dict[str, str]
    timeout: float = 30.0
    retries: int = 4
    max_retry_wait: float = 120.0
    credentials_hint: str = "check the credentials"
    sleep: Callable[[float], None] = time.sleep
    requests: int = 0

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        params: dict | None = None,
        form: dict | None = None,
        json_body: Any = None,
    ) -> Any:
        """The decoded JSON answer (None for 204); raises SourceError/ConfigError naming ``what``."""
        import http.client
        import urllib.error
        import urllib.parse
        import urllib.request

        if params:
            url = f"{url}{'&' if '?' in url else '?'}{urllib.parse.urlencode(params)}"
        data, headers = None, dict(self.headers)
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            data = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            attempt += 1
            self.requests += 1
            wait: float | None = None
            try:
                request = urllib.request.Request(url, data=data, headers=headers, method=method)
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    body = response.read()
                    if response.status == 204 or not body.strip():
                        return None
                    return json.loads(body)
            except urllib.error.HTTPError as error:
                status = error.code
                detail = _error_detail(error)
                if status in (401, 403):
                    raise ConfigError(
                        f"{self.display}: {what}: the server refused the credentials ({status}{detail}): "
                        f"{self.credentials_hint}"
                    ) from None
                if status == 429:
                    wait = _retry_after(error.headers.get("Retry-After"), default=min(2.0**attempt, 30.0))
                    if wait > self.max_retry_wait:
                        raise SourceError(
                            f"{self.display}: {what}: rate limited (429) with Retry-After {wait:.0f} s, more than "
                            f"[sync] max_retry_wait ({self.max_retry_wait:.0f} s): run `kpi sync` later"
                        ) from None
                    problem = "rate limited (429)"
                elif status >= 500:
                    problem = f"server error {status}{detail}"
                elif status == 400 and "cursor" in url:
                    raise CursorExpired(
                        f"{self.display}: {what}: the server no longer accepts the paging cursor"
                    ) from None
                else:
                    raise SourceError(
                        f"{self.display}: {what}: the server answered {status}{detail}"
                    ) from None
            except json.JSONDecodeError:
                raise SourceError(
                    f"{self.display}: {what}: the answer is not JSON (ask for application/json)"
                ) from None
            except (TimeoutError, OSError, urllib.error.URLError, http.client.HTTPException) as error:
                # Includes a server that dies mid-answer (IncompleteRead, connection reset).
                reason = getattr(error, "reason", None) or error
                problem = (
                    "timed out"
                    if "timed out" in str(reason)
                    else f"cannot be reached ({_first_line(reason)})"
                )
            if attempt > self.retries:
                raise SourceError(
                    f"{self.display}: {what}: {problem}, {attempt} attempts: run `kpi sync` again later"
                )
            self.sleep(wait if wait is not None else min(0.5 * 2 ** (attempt - 1), 8.0))


def _retry_after(value: str | None, default: float) -> float:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date)."""
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, (parsedate_to_datetime(value) - dt.datetime.now(dt.UTC)).total_seconds())
        except (TypeError, ValueError):
            return default


def _error_detail(error) -> str:
    try:
        text = error.read(300).decode("utf-8", "replace").strip()
    except Exception:
        return ""
    return f": {_first_line(text)[:120]}" if text else ""


def _first_line(value) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__


# -- connectors -------------------------------------------------------------------------------------------
@dataclass
class Page:
    """One page of a stream: the raw records, and the cursor of the next page (None at the end)."""

    records: list[dict]
    cursor: str | None = None
    total: int | None = None


@dataclass
class Stream:
    """One kind of API object. ``fetch(since, cursor)`` yields pages; ``since`` is a watermark or None.

    ``watermark(record)`` is the record's updated time as a number (e.g. epoch ms); ``key(record)`` its id.
    ``incremental`` is False for objects the API cannot list by updated time: they are fetched whole
    every sync, so deletions are seen.
    """

    name: str
    fetch: Callable[[float | None, str | None], Iterator[Page]]
    key: Callable[[dict], str]
    watermark: Callable[[dict], float | None]
    incremental: bool = True
    client: JsonClient | None = None  # the HTTP client behind ``fetch``, if any (tests shorten its waits)


class SyncConnector(Connector):
    """A connector that copies a REST API into the staging database and reads it from there.

    Subclasses set ``scheme`` and ``entities`` (the canonical entities they fill) and implement
    ``streams(url, config, settings)`` and ``rows(stream, record, config)`` (the entity rows of one raw
    record, as ``{entity: [row, ...]}``).
    """

    scheme: str = ""
    entities: tuple[str, ...] = ()

    def handles(self, url: str) -> bool:
        return url.startswith(f"{self.scheme}://")

    def streams(self, url: str, config, settings: SyncSettings) -> list[Stream]:
        raise NotImplementedError

    def rows(self, stream: str, record: dict, config) -> dict[str, list[dict]]:
        raise NotImplementedError

    def open(self, url, source_config, entities):
        """Open the staging database's last complete sync as an ordinary SQL source."""
        staging_url = SyncSettings.from_source(source_config).url
        staging = Staging(staging_url)
        try:
            finished = staging.last_complete(url)
        finally:
            staging.close()
        if finished is None:
            raise SourceError(
                f"{url} has not been synced yet: run `kpi sync` first (staging database {staging.display})"
            )
        from .connectors.sql import SQLConnector

        source = SQLConnector().open(staging_url, source_config, entities)
        source.display = url
        source.synced_at = finished
        return source


# -- staging ----------------------------------------------------------------------------------------------
def _tables(metadata):
    import sqlalchemy as sa

    runs = sa.Table(
        "_kpi_sync_runs",
        metadata,
        sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("mode", sa.Text, nullable=False),  # "full" or "incremental"
        sa.Column("status", sa.Text, nullable=False),  # "running", "failed", "complete"
        sa.Column("started_at", sa.Text, nullable=False),
        sa.Column("finished_at", sa.Text),
        sa.Column("fetched", sa.Integer, default=0),
        sa.Column("inserted", sa.Integer, default=0),
        sa.Column("updated", sa.Integer, default=0),
        sa.Column("deleted", sa.Integer, default=0),
        sa.Column("error", sa.Text),
    )
    progress = sa.Table(
        "_kpi_sync_progress",
        metadata,
        sa.Column("run_id", sa.Integer, primary_key=True),
        sa.Column("stream", sa.Text, primary_key=True),
        sa.Column("since", sa.Float),  # the watermark this run fetches after (None: everything)
        sa.Column("cursor", sa.Text),  # the next page to fetch
        sa.Column("done", sa.Boolean, nullable=False, default=False),
        sa.Column("fetched", sa.Integer, nullable=False, default=0),
    )
    watermarks = sa.Table(
        "_kpi_sync_watermarks",
        metadata,
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("stream", sa.Text, primary_key=True),
        sa.Column("watermark", sa.Float),
    )
    pending = sa.Table(
        "_kpi_sync_pending",
        metadata,
        sa.Column("stream", sa.Text, primary_key=True),
        sa.Column("object_id", sa.Text, primary_key=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("watermark", sa.Float),
    )
    objects = sa.Table(
        "_kpi_sync_objects",
        metadata,
        sa.Column("stream", sa.Text, primary_key=True),
        sa.Column("object_id", sa.Text, primary_key=True),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("watermark", sa.Float),
    )
    return runs, progress, watermarks, pending, objects


class Staging:
    """The staging database: sync bookkeeping, the pending area, the published objects and entity tables."""

    def __init__(self, url: str):
        import sqlalchemy as sa

        from .connectors import redact

        self.display = redact(url)
        if (path := sqlite_file(url)) is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine = sa.create_engine(database_url(url))
        except (sa.exc.ArgumentError, ImportError) as error:
            raise ConfigError(f"[sync] url {self.display!r} cannot be opened: {error}") from None
        self.metadata = sa.MetaData()
        self.runs, self.progress, self.watermarks, self.pending, self.objects = _tables(self.metadata)
        try:
            self.metadata.create_all(self.engine)
        except sa.exc.SQLAlchemyError as error:
            raise SourceError(
                f"staging database {self.display}: {_first_line(getattr(error, 'orig', None) or error)}"
            ) from None

    def close(self) -> None:
        self.engine.dispose()

    def last_complete(self, source: str) -> dt.datetime | None:
        """When the last complete sync of ``source`` finished (UTC), or None."""
        import sqlalchemy as sa

        with self.engine.connect() as connection:
            finished = connection.execute(
                sa.select(sa.func.max(self.runs.c.finished_at)).where(
                    self.runs.c.source == source, self.runs.c.status == "complete"
                )
            ).scalar()
        return dt.datetime.fromisoformat(finished) if finished else None

    def unfinished_run(self, source: str):
        import sqlalchemy as sa

        with self.engine.connect() as connection:
            return connection.execute(
                sa.select(self.runs)
                .where(self.runs.c.source == source, self.runs.c.status != "complete")
                .order_by(self.runs.c.run_id.desc())
                .limit(1)
            ).first()


@dataclass
class StreamCount:
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    deleted: int = 0


@dataclass
class SyncSummary:
    """What one ``kpi sync`` did."""

    source: str
    mode: str
    resumed: bool
    seconds: float
    streams: dict[str, StreamCount] = field(default_factory=dict)
    entity_rows: dict[str, int] = field(default_factory=dict)

    def total(self, what: str) -> int:
        return sum(getattr(count, what) for count in self.streams.values())

    def line(self) -> str:
        """The one-line summary ``kpi sync`` prints."""
        rate = self.total("fetched") / self.seconds if self.seconds > 0 else 0.0
        rows = ", ".join(f"{name} {count}" for name, count in self.entity_rows.items())
        resumed = ", resumed" if self.resumed else ""
        return (
            f"Synced {self.source} ({self.mode}{resumed}) in {self.seconds:.1f} s: {self.total('fetched')} fetched "
            f"({rate:.0f}/s), {self.total('inserted')} inserted, {self.total('updated')} updated, "
            f"{self.total('deleted')} deleted. Entities: {rows or 'none'}."
        )


ProgressCallback = Callable[[str, int, "int | None"], None]


def sync_connector_for(url: str, registry) -> SyncConnector | None:
    """The sync connector that handles ``url``, or None when another kind of connector does."""
    for registration in registry.connectors.values():
        connector = registration.item
        if connector.handles(url):
            return connector if isinstance(connector, SyncConnector) else None
    return None


def _what_sync_is(registry) -> str:
    """What `kpi sync` is for, and the installed plugins it works with (or the ones to install)."""
    schemes = sorted(
        f"{getattr(r.item, 'scheme', r.name)}://"
        for r in registry.connectors.values()
        if isinstance(r.item, SyncConnector)
    )
    plugins = (
        f"here: {', '.join(schemes)}"
        if schemes
        else "none installed: pip install ./plugins/kpicore-agilecrm or ./plugins/kpicore-hubspot"
    )
    return (
        "`kpi sync` copies a hosted CRM's records into a local staging database that the metrics then read; "
        f"it works with the CRM plugins' sources ({plugins}): set [source] url to one to use it."
    )


def run_sync(
    config,
    registry,
    url: str | None = None,
    *,
    full: bool = False,
    progress: ProgressCallback | None = None,
    sleep: Callable[[float], None] | None = None,
) -> SyncSummary:
    """Sync the configured (or given) REST source into the staging database; see the module docstring."""
    from .connectors import configured_source_url

    url = configured_source_url(config, url)
    connector = sync_connector_for(url, registry)
    if connector is None:
        from .connectors import redact

        raise ConfigError(
            f"source {redact(url)!r} is read where it is: nothing to sync. {_what_sync_is(registry)}"
        )
    settings = SyncSettings.from_source(config.source)
    check_declared_tables(config, registry)  # the connector's [packs.NAME], declared with register_settings
    started = time.monotonic()
    streams = connector.streams(url, config, settings)
    if sleep is not None:
        for stream in streams:
            if stream.client is not None:
                stream.client.sleep = sleep
    staging = Staging(settings.url)
    try:
        run, resumed = _start_run(staging, url, streams, full)
        counts = {stream.name: StreamCount() for stream in streams}
        for stream in streams:
            _fetch_stream(staging, run, stream, counts[stream.name], progress)
        entity_rows = _publish(staging, run, url, streams, counts, connector, config, registry)
    except KpiError as error:
        _mark_failed(staging, url, str(error))
        raise
    finally:
        staging.close()
    return SyncSummary(url, run.mode, resumed, time.monotonic() - started, counts, entity_rows)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(sep=" ", timespec="microseconds")


def _start_run(staging: Staging, url: str, streams: list[Stream], full: bool):
    """Resume the unfinished run of this source, or start one (full when asked or never synced)."""
    import sqlalchemy as sa

    with staging.engine.connect() as connection:
        other = connection.execute(
            sa.select(staging.runs.c.source).where(
                staging.runs.c.source != url, staging.runs.c.status == "complete"
            )
        ).first()
    if other is not None:
        raise ConfigError(
            f"staging database {staging.display} holds the sync of {other.source}: set [sync] url to another "
            f"file for {url}"
        )
    unfinished = staging.unfinished_run(url)
    if unfinished is not None and not full:
        with staging.engine.begin() as connection:
            connection.execute(
                staging.runs.update()
                .where(staging.runs.c.run_id == unfinished.run_id)
                .values(status="running", error=None)
            )
        return unfinished, True
    with staging.engine.begin() as connection:
        if unfinished is not None:  # --full discards what the unfinished run staged
            connection.execute(staging.pending.delete())
            connection.execute(
                staging.runs.update()
                .where(staging.runs.c.run_id == unfinished.run_id)
                .values(status="abandoned")
            )
        previous = connection.execute(
            sa.select(sa.func.count())
            .select_from(staging.runs)
            .where(staging.runs.c.source == url, staging.runs.c.status == "complete")
        ).scalar()
        marks: dict[str, Any] = dict(
            connection.execute(
                sa.select(staging.watermarks.c.stream, staging.watermarks.c.watermark).where(
                    staging.watermarks.c.source == url
                )
            ).all()
        )
        mode = "full" if full or not previous else "incremental"
        inserted = connection.execute(
            staging.runs.insert().values(source=url, mode=mode, status="running", started_at=_now())
        ).inserted_primary_key
        assert inserted is not None  # an INSERT of one row
        run_id = inserted[0]
        for stream in streams:
            since = None
            if mode == "incremental" and stream.incremental and marks.get(stream.name) is not None:
                since = marks[stream.name] - WATERMARK_OVERLAP * _watermark_unit(marks[stream.name])
            connection.execute(
                staging.progress.insert().values(
                    run_id=run_id, stream=stream.name, since=since, cursor=None, done=False, fetched=0
                )
            )
        run = connection.execute(sa.select(staging.runs).where(staging.runs.c.run_id == run_id)).first()
    return run, False


def _watermark_unit(value: float) -> float:
    """1 for watermarks in seconds, 1000 for epoch milliseconds (any value past the year 2286 in seconds)."""
    return 1000.0 if value > 1e10 else 1.0


def _fetch_stream(staging: Staging, run, stream: Stream, count: StreamCount, progress) -> None:
    """Fetch one stream from where the run left it; one transaction per page."""
    import sqlalchemy as sa

    where = sa.and_(staging.progress.c.run_id == run.run_id, staging.progress.c.stream == stream.name)
    with staging.engine.connect() as connection:
        state = connection.execute(sa.select(staging.progress).where(where)).first()
    if state is None:
        return
    count.fetched = state.fetched
    if state.done:
        return
    cursor, since = state.cursor, state.since
    restarted = False
    while True:
        try:
            for page in stream.fetch(since, cursor):
                records = {stream.key(record): record for record in page.records}
                with staging.engine.begin() as connection:
                    if records:
                        connection.execute(
                            staging.pending.delete().where(
                                staging.pending.c.stream == stream.name,
                                staging.pending.c.object_id.in_(list(records)),
                            )
                        )
                        connection.execute(
                            staging.pending.insert(),
                            [
                                {
                                    "stream": stream.name,
                                    "object_id": key,
                                    "payload": json.dumps(record, sort_keys=True),
                                    "watermark": stream.watermark(record),
                                }
                                for key, record in records.items()
                            ],
                        )
                    count.fetched += len(page.records)
                    connection.execute(
                        staging.progress.update()
                        .where(where)
                        .values(cursor=page.cursor, fetched=count.fetched, done=page.cursor is None)
                    )
                cursor = page.cursor
                if progress is not None:
                    progress(stream.name, count.fetched, page.total)
                if page.cursor is None:
                    break
            else:
                with staging.engine.begin() as connection:
                    connection.execute(staging.progress.update().where(where).values(done=True))
            return
        except CursorExpired:
            if restarted or cursor is None:
                raise
            # The saved cursor is too old for the server: start this stream again (records dedupe by id).
            cursor, restarted = None, True


def _publish(
    staging: Staging, run, url, streams, counts, connector: SyncConnector, config, registry
) -> dict[str, int]:
    """Merge the pending area into the published objects and rebuild the entity tables: one transaction."""
    import sqlalchemy as sa

    entity_rows: dict[str, list[dict]] = {name: [] for name in connector.entities}
    with staging.engine.begin() as connection:
        for stream in streams:
            count = counts[stream.name]
            pending = {
                r.object_id: r
                for r in connection.execute(
                    sa.select(staging.pending).where(staging.pending.c.stream == stream.name)
                )
            }
            published = {
                r.object_id: r.payload
                for r in connection.execute(
                    sa.select(staging.objects.c.object_id, staging.objects.c.payload).where(
                        staging.objects.c.stream == stream.name
                    )
                )
            }
            full = run.mode == "full" or not stream.incremental
            gone = [key for key in published if key not in pending] if full else []
            changed = [key for key, row in pending.items() if published.get(key) != row.payload]
            count.inserted = sum(1 for key in changed if key not in published)
            count.updated = len(changed) - count.inserted
            count.deleted = len(gone)
            removed = gone + [key for key in changed if key in published]
            for chunk in _chunks(removed, 500):
                connection.execute(
                    staging.objects.delete().where(
                        staging.objects.c.stream == stream.name, staging.objects.c.object_id.in_(chunk)
                    )
                )
            if changed:
                connection.execute(
                    staging.objects.insert(),
                    [
                        {
                            "stream": stream.name,
                            "object_id": key,
                            "payload": pending[key].payload,
                            "watermark": pending[key].watermark,
                        }
                        for key in changed
                    ],
                )
            marks = [row.watermark for row in pending.values() if row.watermark is not None]
            if marks:
                old = connection.execute(
                    sa.select(staging.watermarks.c.watermark).where(
                        staging.watermarks.c.source == url, staging.watermarks.c.stream == stream.name
                    )
                ).scalar()
                connection.execute(
                    staging.watermarks.delete().where(
                        staging.watermarks.c.source == url, staging.watermarks.c.stream == stream.name
                    )
                )
                connection.execute(
                    staging.watermarks.insert().values(
                        source=url,
                        stream=stream.name,
                        watermark=max(marks + ([old] if old is not None else [])),
                    )
                )
            for (payload,) in connection.execute(
                sa.select(staging.objects.c.payload)
                .where(staging.objects.c.stream == stream.name)
                .order_by(staging.objects.c.object_id)
            ):
                for entity, rows in connector.rows(stream.name, json.loads(payload), config).items():
                    entity_rows.setdefault(entity, []).extend(rows)
        connection.execute(staging.pending.delete())
        _write_entities(connection, entity_rows, registry)
        connection.execute(
            staging.runs.update()
            .where(staging.runs.c.run_id == run.run_id)
            .values(
                status="complete",
                finished_at=_now(),
                fetched=sum(c.fetched for c in counts.values()),
                inserted=sum(c.inserted for c in counts.values()),
                updated=sum(c.updated for c in counts.values()),
                deleted=sum(c.deleted for c in counts.values()),
            )
        )
    return {name: len(rows) for name, rows in entity_rows.items()}


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _column_type(kind: str | None):
    import sqlalchemy as sa

    return {
        "timestamp": sa.DateTime(timezone=True),
        "date": sa.Date(),
        "number": sa.Float(),
        "integer": sa.Integer(),
        "boolean": sa.Boolean(),
        "id": sa.Text(),
        "text": sa.Text(),
    }.get(kind or "text", sa.Text())


def _write_entities(connection, entity_rows: dict[str, list[dict]], registry) -> None:
    """Replace each entity table with ``rows`` (canonical columns typed by kind; extra keys as text)."""
    import sqlalchemy as sa

    for name, rows in entity_rows.items():
        entity = registry.entities[name].item if name in registry.entities else None
        kinds = {c.name: c.kind for c in entity.columns} if entity else {}
        names = list(kinds)
        extra = sorted({key for row in rows for key in row if key not in kinds})
        table = sa.Table(
            name, sa.MetaData(), *[sa.Column(c, _column_type(kinds.get(c))) for c in names + extra]
        )
        table.drop(connection, checkfirst=True)
        table.create(connection)
        if rows:
            connection.execute(table.insert(), [{c: row.get(c) for c in names + extra} for row in rows])


def _mark_failed(staging: Staging, url: str, message: str) -> None:
    try:
        with staging.engine.begin() as connection:
            connection.execute(
                staging.runs.update()
                .where(staging.runs.c.source == url, staging.runs.c.status == "running")
                .values(status="failed", error=message[:500])
            )
    except Exception:
        pass


# -- readers ----------------------------------------------------------------------------------------------
def last_sync(config, registry, url: str | None = None) -> dt.datetime | None:
    """When the configured REST source was last synced completely (None: never, or not a synced source)."""
    from .connectors import configured_source_url

    url = configured_source_url(config, url)
    if sync_connector_for(url, registry) is None:
        return None
    staging = Staging(SyncSettings.from_source(config.source).url)
    try:
        return staging.last_complete(url)
    finally:
        staging.close()


def sync_if_stale(
    config, registry, url: str | None = None, *, echo: Callable[[str], None] | None = None
) -> SyncSummary | None:
    """Sync first when the source is a synced one and its staging data is older than ``[sync] max_age``.

    The hook ``kpi compute`` and the digest commands call before opening the source. Never call it
    where an answer must be quick (``/kpi``): read ``last_sync`` instead.
    """
    from .connectors import configured_source_url

    try:
        url = configured_source_url(config, url)
    except ConfigError:
        return None
    if sync_connector_for(url, registry) is None:
        return None
    settings = SyncSettings.from_source(config.source)
    finished = last_sync(config, registry, url)
    if finished is not None:
        age = (dt.datetime.now(dt.UTC) - finished.replace(tzinfo=finished.tzinfo or dt.UTC)).total_seconds()
        if age <= settings.max_age:
            return None
    summary = run_sync(config, registry, url)
    if echo is not None:
        echo(summary.line())
    return summary


def environment(name: str) -> str | None:
    """An environment variable, empty counting as unset."""
    value = os.environ.get(name, "").strip()
    return value or None


__all__ = [
    "CursorExpired",
    "JsonClient",
    "Page",
    "Stream",
    "SyncConnector",
    "SyncSettings",
    "SyncSummary",
    "environment",
    "last_sync",
    "run_sync",
    "sync_if_stale",
]
