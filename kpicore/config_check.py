"""What `kpi check` finds wrong in kpi.toml once the plugins are known.

``kpicore.config`` checks the shape of the file on its own; the keys that depend on what is installed
are checked here, against the registry: entity names and their column keys, the tables plugins declare
through ``register_settings`` (``[packs.NAME]``, ``[channels.NAME]``), digests, targets, alerts, insights. Every message
names the file and the key, and suggests the closest name.
"""

from __future__ import annotations

from typing import Any

from .alerts.check import alert_problems
from .errors import ConfigError
from .settings import did_you_mean, table_problems
from .targets import target_problems

#: kpi.toml tables whose sub-tables belong to plugins, which declare their keys with register_settings.
PLUGIN_SECTIONS = ("packs", "channels")


def _hint(name: str, known) -> str:
    return did_you_mean(name, known, otherwise=f" (known: {', '.join(sorted(known))})" if known else "")


def service_problems(config) -> list[str]:
    """Problems in the values of ``[serve]``, ``[chat]`` and ``[sync]`` (durations, numbers, the lease),
    one line each: what `kpi check` reports and `kpi serve` refuses to start with, never a tick's error."""
    from .chat.answers import ChatSettings
    from .serve.service import serve_settings
    from .sync import SyncSettings

    def chat() -> None:
        ChatSettings.from_config(config).schedule_for(config.timezone)

    problems = []
    for check in (lambda: serve_settings(config), chat, lambda: SyncSettings.from_source(config.source)):
        try:
            check()
        except ConfigError as error:
            problems.append(str(error))
    return problems


def config_problems(config, registry) -> list[str]:
    """Every problem of ``config`` that the installed plugins make visible, one line each."""
    from .config import config_file_name
    from .digest.config import digest_spec

    where = config_file_name(config)
    problems: list[str] = []
    problems.extend(_entity_problems(config, registry, where))
    from .connectors import entity_option_problems

    problems.extend(entity_option_problems(config.source, registry, where))
    for section in PLUGIN_SECTIONS:
        tables = getattr(config, section, None) or {}
        problems.extend(_settings_problems(section, tables, registry, where))
    for metric in config.targets:
        if metric not in registry.metrics:
            problems.append(f"{where}: [targets]: unknown metric {metric!r}{_hint(metric, registry.metrics)}")
    problems.extend(target_problems(config.targets, where))
    problems.extend(alert_problems(config, registry))
    from .insights.run import insight_problems

    problems.extend(insight_problems(config, registry))
    for name in config.digests:
        try:
            digest_spec(config, name, registry)
        except ConfigError as error:
            problems.append(str(error))
    return problems


def _entity_problems(config, registry, where: str) -> list[str]:
    problems = []
    for name, mapping in config.source.entities.items():
        entity = registry.entity(name)
        if entity is None:
            problems.append(
                f"{where}: [entities.{name}]: unknown entity {name!r}{_hint(name, registry.entities)}"
            )
            continue
        for key in ("columns", "scale"):
            for column in getattr(mapping, key):
                if entity.column(column) is None:
                    problems.append(
                        f"{where}: [entities.{name}].{key}: unknown column {column!r}"
                        f"{_hint(column, entity.column_names)}; {name} has {', '.join(entity.column_names)}"
                    )
    return problems


def _settings_problems(section: str, tables: dict[str, Any], registry, where: str) -> list[str]:
    """``[packs.NAME]`` / ``[channels.NAME]`` tables against the keys plugins declared for them."""
    declared = {key.split(".", 2)[1] for key in registry.settings if key.startswith(section + ".")}
    problems = []
    for name, table in tables.items():
        path = f"{section}.{name}"
        if path not in registry.settings:
            problems.append(
                f"{where}: [{path}]: no installed plugin reads this table{_hint(name, declared)}; "
                "`kpi plugins` lists what is installed"
            )
            continue
        problems.extend(table_problems(path, table, registry, where))
    return problems


def destination_readiness(config, registry) -> tuple[list[str], list[str]]:
    """``(problems, warnings)`` of every digest's destinations, asked of their channels without sending:
    what kpi.toml lacks (``email:`` without an ``[email]`` host) is a problem; what the environment lacks
    (a channel's ``environment`` variable, such as SLACK_BOT_TOKEN) a warning, since the environment
    `kpi check` runs in need not be the one that sends."""
    from .channels.base import parse_destination
    from .config import config_file_name
    from .digest.config import digest_names, digest_spec

    problems: list[str] = []
    warnings: list[str] = []
    where = config_file_name(config)
    for name in digest_names(config):
        try:
            spec = digest_spec(config, name, registry)
        except ConfigError:  # reported with the digests' other problems
            continue
        for destination in spec.destinations:
            scheme, target = parse_destination(destination)
            channel = registry.channels[scheme].item
            for line in channel.preflight(target, channel.settings(config)):
                about_environment = any(variable in line for variable in channel.environment)
                (warnings if about_environment else problems).append(
                    f"{where}: [digests.{name}] {destination}: {line}"
                )
    return problems, warnings
