"""Data-source connectors. The built-in ones are default plugins; see ``open_source``."""

from __future__ import annotations

from pathlib import Path

from ..config import SourceConfig, expand_environment
from ..errors import ConfigError


class Connector:
    """Turns a source URL or path into an opened ``Source``.

    Subclasses set ``name`` and ``description`` and implement ``handles(url)`` and
    ``open(url, config, entities)``.
    """

    name: str = ""
    description: str = ""

    def handles(self, url: str) -> bool:
        raise NotImplementedError

    def open(self, url: str, config: SourceConfig, entities: dict):
        raise NotImplementedError


def open_source(url: str, config: SourceConfig, registry):
    """Open ``url`` with the first registered connector that handles it (third-party plugins first)."""
    url = expand_environment(url, "source url")
    if "://" not in url:
        path = Path(url)
        if not path.is_absolute():
            path = config.base_dir / path
        url = str(path)
    entities = {name: registration.item for name, registration in registry.entities.items()}
    for registration in registry.connectors.values():
        connector = registration.item
        if connector.handles(url):
            return connector.open(url, config, entities)
    raise ConfigError(
        f"no connector handles source {redact(url)!r}: use a SQLAlchemy URL (sqlite:///shop.db, "
        "postgresql://user@host/db), a .db/.sqlite file or a folder of CSV/Parquet files"
    )


#: The sample database `kpi demo` writes; the source of last resort beside kpi.toml.
DEMO_DATABASE = "kpi-demo.db"


def configured_source_url(config, explicit: str | None = None) -> str:
    """The source to read: ``explicit`` (``--source``), else ``[source] url``, else the demo database
    beside kpi.toml. Raises ConfigError when there is none."""
    if explicit:
        return explicit
    if config.source.url:
        return config.source.url
    demo = config.base_dir / DEMO_DATABASE
    if demo.is_file():
        return str(demo)
    raise ConfigError(
        "no data source: pass --source URL, set [source] url in kpi.toml, or run `kpi demo` for sample data"
    )


def open_configured_source(config, registry, explicit: str | None = None):
    """Open the source configured in ``config`` (see configured_source_url); close it when done."""
    return open_source(configured_source_url(config, explicit), config.source, registry)


def redact(url: str) -> str:
    """The URL with any password replaced by ***."""
    if "://" not in url:
        return url
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparseable URL is still redacted by hand
        scheme, rest = url.split("://", 1)
        if "@" in rest:
            credentials, host = rest.rsplit("@", 1)
            user = credentials.split(":", 1)[0]
            return f"{scheme}://{user}:***@{host}"
        return url
