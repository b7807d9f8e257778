"""The staging database: the sync bookkeeping tables, the pending area and the published objects."""

from __future__ import annotations

import datetime as dt

from ..dialects.urls import database_url, sqlite_file
from ..errors import ConfigError, SourceError
from .client import _first_line


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
    # The pending area and the published objects hold the same rows: raw API objects by stream and id.
    pending, objects = (
        sa.Table(
            name,
            metadata,
            sa.Column("stream", sa.Text, primary_key=True),
            sa.Column("object_id", sa.Text, primary_key=True),
            sa.Column("payload", sa.Text, nullable=False),
            sa.Column("watermark", sa.Float),
        )
        for name in ("_kpi_sync_pending", "_kpi_sync_objects")
    )
    return runs, progress, watermarks, pending, objects


class Staging:
    """The staging database: sync bookkeeping, the pending area, the published objects and entity tables."""

    def __init__(self, url: str):
        import sqlalchemy as sa

        from ..connectors import redact

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


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(sep=" ", timespec="microseconds")


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
