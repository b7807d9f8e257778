"""The ``[sync]`` table of kpi.toml: where the staging database is and how the API is read."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..dialects.urls import database_url
from ..errors import ConfigError
from ..settings import check_keys, parse_duration

SYNC_KEYS = ("url", "max_age", "page_size", "timeout", "retries", "max_retry_wait")
DEFAULT_STAGING = "kpi-sync.db"


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


def environment(name: str) -> str | None:
    """An environment variable, empty counting as unset."""
    value = os.environ.get(name, "").strip()
    return value or None
