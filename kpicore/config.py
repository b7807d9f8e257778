"""kpi.toml: loading, validation and defaults."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .settings import check_keys, closest, did_you_mean, parse_duration, unknown_key

CONFIG_FILE = "kpi.toml"
TOP_LEVEL_KEYS = (
    "timezone",
    "currency",
    "locale",
    "digits",
    "week_start",
    "calendar",
    "gross_margin",
    "state_url",
    "templates_dir",
    "source",
    "entities",
    "targets",
    "email",
    "slack",
    "channels",
    "serve",
    "digests",
    "alerts",
    "packs",
    "chat",
    "sync",
    "insights",
)
#: The top-level tables kept as they are read (each checked by the part that owns it); ``[source]`` and
#: ``[sync]`` are read into the source settings.
TABLE_KEYS = tuple(key for key in TOP_LEVEL_KEYS[TOP_LEVEL_KEYS.index("targets") :] if key != "sync")
#: The calendars dates are shown in (``calendar``); periods are Gregorian underneath in every one.
CALENDARS = ("gregorian", "persian")
#: ``[source] incremental``: where the incremental lifetime aggregates are used.
INCREMENTAL_MODES = ("auto", "on", "off")
SOURCE_KEYS = ("url", "timezone", "timeout", "schema", "email", "incremental", "late_data")
ENTITY_KEYS = ("table", "query", "columns", "dimensions", "scale")
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class EntityMapping:
    """How one entity maps onto the source: a table or a query, with column renames."""

    table: str | None = None
    query: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    dimensions: list[str] | None = None
    scale: dict[str, float] = field(default_factory=dict)
    #: Keys a connector plugin adds to an entity's mapping (declared with ``register_settings("entities.NAME",
    #: keys)``, e.g. the Spark plugin's ``path``), checked against the installed plugins when a source opens.
    options: dict[str, Any] = field(default_factory=dict)

    def source_column(self, canonical: str) -> str:
        return self.columns.get(canonical, canonical)


@dataclass
class SourceConfig:
    """The ``[source]`` table plus the ``[entities.*]`` mappings."""

    url: str | None = None
    timezone: str = "UTC"
    timeout: float = 60.0
    schema: str | None = None
    entities: dict[str, EntityMapping] = field(default_factory=dict)
    base_dir: Path = field(default_factory=Path.cwd)
    email: str | None = None  # the account of a REST source (Agile CRM); its key comes from the environment
    sync: dict[str, Any] = field(
        default_factory=dict
    )  # [sync]: staging database of REST sources (kpicore.sync)
    #: How files as exported are read (kpicore.connectors.typed_files): the top-level locale and calendar,
    #: the columns named as dimensions by digests, alerts and insights, and where the typed copies are kept.
    locale: str = "en"
    calendar: str = "gregorian"
    named_dimensions: tuple[str, ...] = ()
    cache_dir: Path | None = None
    #: ``incremental``: where the lifetime aggregates are used ("auto", "on", "off"; kpicore.incremental).
    incremental: str = "off"
    #: ``late_data``: seconds of recent rows read live each time rather than aggregated (default 7 days).
    late_data: float = 7 * 86400.0


@dataclass
class Config:
    """A loaded kpi.toml. Sections that belong to later features are kept as plain dicts."""

    path: Path | None = None
    timezone: str = "UTC"
    currency: str = "USD"
    locale: str = "en"
    #: "native": Malayalam, Bengali or Persian digits where the locale has them; "default": Babel's.
    digits: str = "default"
    #: The first day of the business's week for ``this-week`` / ``last-week``: "monday" (ISO), "saturday"...
    week_start: str = "monday"
    #: "persian": Solar Hijri dates in Persian digests (periods stay Gregorian underneath).
    calendar: str = "gregorian"
    gross_margin: float = 1.0
    state_url: str | None = None
    templates_dir: Path | None = None
    source: SourceConfig = field(default_factory=SourceConfig)
    targets: dict[str, dict[str, float]] = field(default_factory=dict)
    email: dict[str, Any] = field(default_factory=dict)
    slack: dict[str, Any] = field(default_factory=dict)
    #: ``[channels.NAME]``: settings of third-party channel plugins, by scheme.
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: ``[serve]``: settings of `kpi serve` (notify).
    serve: dict[str, Any] = field(default_factory=dict)
    digests: dict[str, dict[str, Any]] = field(default_factory=dict)
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    packs: dict[str, dict[str, Any]] = field(default_factory=dict)
    chat: dict[str, Any] = field(default_factory=dict)
    #: ``[insights]``: options and ``[insights.KIND]`` tables of the insight detectors (kpicore.insights).
    insights: dict[str, Any] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def pack(self, name: str) -> dict[str, Any]:
        """The ``[packs.NAME]`` settings of an industry pack (empty when absent)."""
        return self.packs.get(name, {})


def expand_environment(value: str, where: str, *, quote: bool = False) -> str:
    """Replace ``${VAR}`` with the environment variable; a missing one is an error naming it.

    ``quote`` percent-encodes the values (for the user:password part of a URL).
    """
    from urllib.parse import quote as percent_encode

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise ConfigError(
                f"{where} references ${{{name}}}, but the environment variable {name} is not set"
            )
        return percent_encode(os.environ[name], safe="") if quote else os.environ[name]

    return _ENV_REFERENCE.sub(replace, value)


def expand_url(url: str, where: str) -> str:
    """Expand ``${VAR}`` in a URL; values in its user:password part are percent-encoded, so a password
    with '@', ':' or '/' works as written."""
    if "://" not in url:
        return expand_environment(url, where)
    scheme, rest = url.split("://", 1)
    at = rest.rfind("@", 0, rest.find("/") if "/" in rest else len(rest))
    if at < 0:
        return f"{scheme}://" + expand_environment(rest, where)
    userinfo = expand_environment(rest[:at], where, quote=True)
    return f"{scheme}://{userinfo}@" + expand_environment(rest[at + 1 :], where)


def _expect(value: Any, types: type | tuple[type, ...], where: str, what: str) -> Any:
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise ConfigError(f"{where}: expected {what}, got {value!r}")
    if not isinstance(value, types):
        raise ConfigError(f"{where}: expected {what}, got {value!r}")
    return value


def _check_timezone(name: str, where: str) -> None:
    from .periods import get_timezone

    try:
        get_timezone(name)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from None


def check_locale(name: str, where: str) -> None:
    """A locale Babel knows (``en``, ``en_GB``, ``de_DE``); a ConfigError naming ``where`` otherwise."""
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(name.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        from babel.localedata import locale_identifiers

        hint = did_you_mean(name.replace("-", "_"), locale_identifiers())
        raise ConfigError(
            f'{where}: unknown locale {name!r}{hint}; use a language and region such as "en", "en_GB" or "de_DE"'
        ) from None


def check_currency(code: str, where: str) -> str:
    """An ISO 4217 currency code Babel knows (``EUR``, ``USD``), upper-cased; a ConfigError otherwise."""
    from babel.numbers import is_currency, list_currencies

    upper = code.strip().upper()
    if len(upper) == 3 and is_currency(upper):
        return upper
    hint = did_you_mean(upper, list_currencies())
    raise ConfigError(
        f'{where}: unknown currency {code!r}{hint}; use an ISO 4217 code such as "EUR" or "USD"'
    )


def _entity_mapping(name: str, raw: Any, where: str) -> EntityMapping:
    _expect(raw, dict, where, "a table of settings")
    options = {}
    for key in raw:
        if key not in ENTITY_KEYS:
            if closest(key, ENTITY_KEYS):
                raise unknown_key(key, ENTITY_KEYS, where)  # a typo of a built-in key
            options[key] = raw[key]  # perhaps a connector plugin's key: checked once the plugins are known
    if "table" in raw and "query" in raw:
        raise ConfigError(f"{where}: give either 'table' or 'query', not both")
    columns = _expect(
        raw.get("columns", {}), dict, f"{where}.columns", "a table of canonical = source column"
    )
    for canonical, source_name in columns.items():
        _expect(source_name, str, f"{where}.columns.{canonical}", "a column name")
    dimensions = raw.get("dimensions")
    if dimensions is not None:
        _expect(dimensions, list, f"{where}.dimensions", "a list of column names")
    scale = _expect(raw.get("scale", {}), dict, f"{where}.scale", "a table of column = factor")
    for column_name, factor in scale.items():
        _expect(factor, (int, float), f"{where}.scale.{column_name}", "a number")
    return EntityMapping(
        table=_expect(raw["table"], str, f"{where}.table", "a table name") if "table" in raw else None,
        query=_expect(raw["query"], str, f"{where}.query", "an SQL query") if "query" in raw else None,
        columns=dict(columns),
        dimensions=list(dimensions) if dimensions is not None else None,
        scale={k: float(v) for k, v in scale.items()},
        options=options,
    )


def parse_config(raw: dict[str, Any], path: Path | None = None) -> Config:
    """Validate a parsed kpi.toml; errors name the file and key."""
    where = str(path) if path else CONFIG_FILE
    check_keys(raw, TOP_LEVEL_KEYS, where)
    config = Config(path=path)
    if "timezone" in raw:
        config.timezone = _expect(raw["timezone"], str, f"{where}: timezone", "an IANA timezone name")
        _check_timezone(config.timezone, f"{where}: timezone")
    for key in ("currency", "locale", "state_url"):
        if key in raw:
            setattr(config, key, _expect(raw[key], str, f"{where}: {key}", "a string"))
    if "locale" in raw:
        check_locale(config.locale, f"{where}: locale")
    if "digits" in raw:
        config.digits = _expect(raw["digits"], str, f"{where}: digits", '"default" or "native"')
        if config.digits not in ("default", "native"):
            raise ConfigError(f'{where}: digits must be "default" or "native", got {config.digits!r}')
    if "week_start" in raw:
        from .periods import check_week_start

        config.week_start = check_week_start(raw["week_start"], f"{where}: week_start")
    if "calendar" in raw:
        config.calendar = _expect(raw["calendar"], str, f"{where}: calendar", '"gregorian" or "persian"')
        if config.calendar not in CALENDARS:
            raise ConfigError(f'{where}: calendar must be "gregorian" or "persian", got {config.calendar!r}')
    if "currency" in raw:
        config.currency = check_currency(config.currency, f"{where}: currency")
    if "gross_margin" in raw:
        margin = _expect(raw["gross_margin"], (int, float), f"{where}: gross_margin", "a number")
        if not 0 < margin <= 1:
            raise ConfigError(f"{where}: gross_margin must be in (0, 1], got {margin}")
        config.gross_margin = float(margin)
    if "templates_dir" in raw:
        templates = _expect(raw["templates_dir"], str, f"{where}: templates_dir", "a folder")
        config.templates_dir = (config.base_dir / templates).resolve()

    source_raw = _expect(raw.get("source", {}), dict, f"{where}: [source]", "a table")
    check_keys(source_raw, SOURCE_KEYS, f"{where}: [source]")
    source = SourceConfig(base_dir=config.base_dir)
    if "url" in source_raw:
        source.url = _expect(source_raw["url"], str, f"{where}: source.url", "a URL or path")
    if "timezone" in source_raw:
        source.timezone = _expect(source_raw["timezone"], str, f"{where}: source.timezone", "a timezone")
        _check_timezone(source.timezone, f"{where}: source.timezone")
    if "timeout" in source_raw:
        source.timeout = parse_duration(source_raw["timeout"], f"{where}: source.timeout", seconds=True)
    if "schema" in source_raw:
        source.schema = _expect(source_raw["schema"], str, f"{where}: source.schema", "a schema name")
    if "incremental" in source_raw:
        source.incremental = source_raw["incremental"]
        if source.incremental not in INCREMENTAL_MODES:
            raise ConfigError(
                f'{where}: source.incremental: {source.incremental!r} is not one of "auto", "on", "off"'
            )
    if "late_data" in source_raw:
        source.late_data = parse_duration(source_raw["late_data"], f"{where}: source.late_data", zero=True)
    source.email = _expect(
        source_raw.get("email"), (str, type(None)), f"{where}: source.email", "an email address"
    )
    source.sync = _expect(raw.get("sync", {}), dict, f"{where}: [sync]", "a table")
    entities_raw = _expect(raw.get("entities", {}), dict, f"{where}: [entities]", "a table")
    source.entities = {
        name: _entity_mapping(name, mapping, f"{where}: [entities.{name}]")
        for name, mapping in entities_raw.items()
    }
    config.source = source

    for section in TABLE_KEYS:
        if section in raw:
            setattr(config, section, _expect(raw[section], dict, f"{where}: [{section}]", "a table"))
    _share_with_source(config, raw)
    return config


def files_cache_dir(state_url: str | None, base_dir: Path | None = None) -> Path:
    """Where typed copies of files as exported are kept: ``kpi-cache/`` beside a SQLite state database
    (``state_url`` as kpi.toml writes it: a bare path, or ``sqlite:///``; relative to ``base_dir``), else
    the user cache directory."""
    raw = state_url or ("kpi-state.db" if base_dir is not None else "")
    path: Path | None = None
    if not raw:
        pass
    elif "://" not in raw:
        path = Path(raw)
    elif raw.split("://", 1)[0].split("+", 1)[0] == "sqlite":
        rest = raw.split("://", 1)[1]
        if rest.startswith("/") and ":memory:" not in rest and len(rest) > 1:
            path = Path(rest[1:].split("?", 1)[0]) if not rest.startswith("//") else Path(rest[1:])
    if path is not None:
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        return path.parent / "kpi-cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kpicore"


def _share_with_source(config: Config, raw: dict[str, Any]) -> None:
    """The settings the files connector reads beyond [source] (see SourceConfig)."""
    source = config.source
    source.locale, source.calendar = config.locale, config.calendar
    source.cache_dir = files_cache_dir(config.state_url, config.base_dir)
    named: list = []
    for digest in config.digests.values():
        if isinstance(digest, dict) and isinstance(digest.get("breakdowns"), dict):
            named.extend(digest["breakdowns"].values())
    for alert in config.alerts.values():
        if isinstance(alert, dict):
            named.append(alert.get("by"))
    insights = config.insights
    named.extend(insights.get("dimensions") or [])
    for table in insights.values():
        if isinstance(table, dict):
            named.extend(table.get("dimensions") or [])
    source.named_dimensions = tuple(dict.fromkeys(n for n in named if isinstance(n, str)))


def find_config(explicit: str | os.PathLike | None = None) -> Path | None:
    """The config file to use: ``--config`` if given (must exist), else ./kpi.toml if present."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"config file {path} not found")
        return path.resolve()
    default = Path.cwd() / CONFIG_FILE
    return default if default.is_file() else None


def load_config(explicit: str | os.PathLike | None = None) -> Config:
    """Load and validate kpi.toml (or return the defaults when there is none)."""
    path = find_config(explicit)
    if path is None:
        return Config()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from None
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    return parse_config(raw, path)


#: Keys whose literal value is a secret, and a URL with a password in it (``scheme://user:password@host``).
_SECRET_KEYS = re.compile(r"(password|passwd|secret|token|api_key|apikey)$", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s:]*:[^/@\s]+@", re.IGNORECASE)


def exposed_secrets(path: Path) -> list[str]:
    """Warnings for literal secrets in a config file that other users can read (never the values).

    A password inside a database URL or a ``password``/``token``/``api_key`` key holding a value
    (not an ``${ENV}`` reference) in a file with group or other read permission is one warning each.
    """
    try:
        mode = path.stat().st_mode
        if not mode & 0o044:
            return []
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return []
    found: list[str] = []

    def walk(value: Any, where: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{where}.{key}" if where else str(key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{where}[{index}]")
        elif isinstance(value, str) and value and "${" not in value:
            key = where.rsplit(".", 1)[-1]
            if _URL_PASSWORD.match(value) or _SECRET_KEYS.search(key):
                found.append(where)

    walk(raw, "")
    return [
        f"{path} is readable by other users (mode {mode & 0o777:o}) and holds a literal secret at {where}: "
        f"run chmod 600 {path.name}, or put the secret in an environment variable (${{NAME}})"
        for where in found
    ]


def config_file_name(config) -> str:
    """How messages name the config file: relative to the working directory when it is inside it."""
    from .settings import config_name

    return config_name(config)
