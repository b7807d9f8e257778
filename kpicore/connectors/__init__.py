"""Data-source connectors. The built-in ones are default plugins; see ``open_source``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ..config import Config, SourceConfig, expand_url
from ..errors import ConfigError

if TYPE_CHECKING:
    from ..hookspecs import Registrations


class ConnectorPlugin(Protocol):
    """What ``register_connectors`` takes: any object with these (a :class:`Connector` subclass is one).
    ``open`` returns the opened ``kpicore.source.Source``."""

    name: str
    description: str

    def handles(self, url: str) -> bool: ...
    def open(self, url: str, config: SourceConfig, entities: dict) -> Any: ...


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


def open_source(url: str, config: SourceConfig, registry: Registrations, where: str = "[source] url"):
    """Open ``url`` with the first registered connector that handles it (third-party plugins first);
    ``where`` names where the URL was given, for messages."""
    url = expand_url(url, where)
    _check_mapped_entities(config, registry)
    if "://" not in url:
        path = Path(url)
        if not path.is_absolute():
            path = config.base_dir / path
        url = str(path)
    entities = {name: registration.item for name, registration in registry.entities.items()}
    from ..dialects import using

    dialects = {name: registration.item for name, registration in registry.dialects.items()}
    for registration in registry.connectors.values():
        connector: ConnectorPlugin = registration.item
        if connector.handles(url):
            with using(
                dialects or None
            ):  # the connector picks the source's dialect among the registered ones
                return connector.open(url, config, entities)
    if "://" not in url and not Path(url).exists():
        raise ConfigError(
            f"source {url}: folder or file not found ({where}): give a folder of CSV/Parquet files, "
            "a .db/.sqlite file or a SQLAlchemy URL"
        )
    raise ConfigError(
        f"no connector handles source {redact(url)!r}: use a SQLAlchemy URL (sqlite:///shop.db, "
        "postgresql://user@host/db), a .db/.sqlite file or a folder of CSV/Parquet files"
    )


def _check_mapped_entities(config: SourceConfig, registry: Registrations) -> None:
    """A mapping for an entity no plugin declares is a typo: say so instead of ignoring it."""
    from kpicore.settings import did_you_mean

    for name in config.entities:
        if name not in registry.entities:
            hint = did_you_mean(
                name, registry.entities, otherwise=f" (entities: {', '.join(sorted(registry.entities))})"
            )
            raise ConfigError(f"kpi.toml: [entities.{name}]: unknown entity {name!r}{hint}")
    problem = next(iter(entity_option_problems(config, registry, "kpi.toml")), None)
    if problem:
        raise ConfigError(problem)


#: The prefix of ``register_settings`` sections that declare entity mapping keys (``entities.spark``).
ENTITY_OPTIONS_SECTION = "entities."


def entity_option_problems(config: SourceConfig, registry: Registrations, where: str) -> list[str]:
    """Mapping keys beyond the built-in ones that no installed plugin declares."""
    from ..config import ENTITY_KEYS

    declared: dict[str, str] = {}
    for section, registration in registry.settings.items():
        if section.startswith(ENTITY_OPTIONS_SECTION):
            declared.update(
                dict.fromkeys(registration.item.keys, section.removeprefix(ENTITY_OPTIONS_SECTION))
            )
    problems = []
    for name, mapping in config.entities.items():
        for key in mapping.options:
            if key not in declared:
                known = sorted(set(ENTITY_KEYS) | set(declared))
                problems.append(
                    f"{where}: [entities.{name}]: unknown key {key!r} (known keys: {', '.join(known)}; "
                    "a connector plugin may add others)"
                )
    return problems


#: The sample database `kpi demo` writes; the source of last resort beside kpi.toml.
DEMO_DATABASE = "kpi-demo.db"


def configured_source_url(config: Config, explicit: str | None = None) -> str:
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


def open_configured_source(config: Config, registry: Registrations, explicit: str | None = None):
    """Open the source configured in ``config`` (see configured_source_url); close it when done."""
    where = "--source" if explicit else "[source] url"
    return open_source(configured_source_url(config, explicit), config.source, registry, where)


#: Query-string parameters of a database URL that carry secrets.
SECRET_PARAMETERS = (
    "password",
    "passwd",
    "pwd",
    "sslpassword",
    "passfile",
    "token",
    "secret",
    "api_key",
    "apikey",
)


def redact(url) -> str:
    """A database URL (string or SQLAlchemy URL) with its password and secret parameters shown as ***."""
    if not isinstance(url, str):
        url = url.render_as_string(hide_password=False)
    if "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    location, _, query = rest.partition("?")
    if "@" in location:
        credentials, host = location.rsplit("@", 1)
        user, has_password, _ = credentials.partition(":")
        location = f"{user}:***@{host}" if has_password else f"{user}@{host}"
    if ";" in location:  # Spark Connect: sc://host:15002/;token=...;user_id=...
        location, *settings = location.split(";")
        for setting in settings:
            name, has_value, _ = setting.partition("=")
            secret = has_value and name.strip().lower() in SECRET_PARAMETERS
            location += ";" + (f"{name}=***" if secret else setting)
    if query:
        parameters = []
        for parameter in query.split("&"):
            name, has_value, _ = parameter.partition("=")
            secret = has_value and name.lower() in SECRET_PARAMETERS
            parameters.append(f"{name}=***" if secret else parameter)
        query = "&".join(parameters)
    return f"{scheme}://{location}" + (f"?{query}" if query else "")
