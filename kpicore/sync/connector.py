"""What a sync plugin implements: ``SyncConnector`` (its streams and entity rows), ``Stream`` and ``Page``.

A sync connector handles a URL scheme like any connector, but ``open`` reads the staging database's last
complete sync instead of the API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..connectors import Connector
from ..errors import SourceError
from .client import JsonClient
from .settings import SyncSettings
from .staging import Staging


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
        from ..connectors.sql import SQLConnector

        source = SQLConnector().open(staging_url, source_config, entities)
        source.display = url
        source.synced_at = finished
        return source


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
