"""Publishing a complete sync: merge the pending area into the published objects, rebuild the entity tables.

All of it is one transaction, so readers see the last complete sync and nothing half-written.
"""

from __future__ import annotations

import json

from .connector import SyncConnector
from .staging import Staging, _now


def _publish(
    staging: Staging, run, url, streams, counts, connector: SyncConnector, config, registry
) -> dict[str, int]:
    """Merge the pending area into the published objects and rebuild the entity tables: one transaction."""
    import sqlalchemy as sa

    entity_rows: dict[str, list[dict]] = {name: [] for name in connector.entities}
    with staging.engine.begin() as connection:
        for stream in streams:
            pending = _merge_stream(connection, staging, run, stream, counts[stream.name])
            _advance_watermark(connection, staging, url, stream, pending)
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


def _merge_stream(connection, staging: Staging, run, stream, count) -> dict:
    """Merge one stream's pending records into its published objects; returns the pending rows by id."""
    import sqlalchemy as sa

    pending = {
        r.object_id: r
        for r in connection.execute(sa.select(staging.pending).where(staging.pending.c.stream == stream.name))
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
    return pending


def _advance_watermark(connection, staging: Staging, url, stream, pending: dict) -> None:
    """Keep the highest watermark seen for the stream: the pending records' or the stored one."""
    import sqlalchemy as sa

    marks = [row.watermark for row in pending.values() if row.watermark is not None]
    if not marks:
        return
    which = sa.and_(staging.watermarks.c.source == url, staging.watermarks.c.stream == stream.name)
    old = connection.execute(sa.select(staging.watermarks.c.watermark).where(which)).scalar()
    connection.execute(staging.watermarks.delete().where(which))
    connection.execute(
        staging.watermarks.insert().values(
            source=url, stream=stream.name, watermark=max(marks + ([old] if old is not None else []))
        )
    )


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
