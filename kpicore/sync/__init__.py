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

One job per module: ``settings`` (``[sync]``), ``client`` (``JsonClient``), ``connector`` (what a sync plugin
implements), ``staging`` (the staging database), ``publish`` (merging a complete sync) and ``run`` (``kpi
sync`` and the readers); every public name is importable from ``kpicore.sync``.
"""

from .client import CursorExpired, JsonClient
from .connector import Page, Stream, SyncConnector, sync_connector_for
from .run import StreamCount, SyncSummary, last_sync, run_sync, sync_if_stale
from .settings import SyncSettings, environment

__all__ = [
    "CursorExpired",
    "JsonClient",
    "Page",
    "Stream",
    "StreamCount",
    "SyncConnector",
    "SyncSettings",
    "SyncSummary",
    "environment",
    "last_sync",
    "run_sync",
    "sync_connector_for",
    "sync_if_stale",
]
