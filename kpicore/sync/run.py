"""``kpi sync``: fetch every stream page by page into the pending area, resuming an unfinished run, then publish.

``sync_if_stale`` is what ``kpi compute`` and the digest commands call before they open the source;
``last_sync`` tells a quick reader (``/kpi``) how old the data is without syncing.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError, KpiError
from ..settings import check_declared_tables
from .client import CursorExpired
from .connector import Stream, _what_sync_is, sync_connector_for
from .publish import _publish
from .settings import SyncSettings
from .staging import Staging, _mark_failed, _now

#: Seconds subtracted from a watermark before an incremental fetch, so records updated in the same
#: second as the last one seen are fetched again (and deduplicated by id) rather than missed.
WATERMARK_OVERLAP = 1.0


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
    from ..connectors import configured_source_url

    url = configured_source_url(config, url)
    connector = sync_connector_for(url, registry)
    if connector is None:
        from ..connectors import redact

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


def last_sync(config, registry, url: str | None = None) -> dt.datetime | None:
    """When the configured REST source was last synced completely (None: never, or not a synced source)."""
    from ..connectors import configured_source_url

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
    from ..connectors import configured_source_url

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
