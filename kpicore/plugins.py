"""The plugin manager: built-in default plugins plus the ``kpicore`` entry-point group."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from importlib import metadata

import pluggy

from . import hookspecs

ENTRY_POINT_GROUP = "kpicore"

#: Built-in plugins, registered through the same hooks as anyone's.
DEFAULT_PLUGINS = (
    "kpicore.model_plugin",
    "kpicore.dialects",
    "kpicore.connectors.sql",
    "kpicore.connectors.files",
    "kpicore.metrics.customers",
    "kpicore.metrics.orders",
    "kpicore.metrics.surveys",
    "kpicore.metrics.marketing",
    "kpicore.metrics.leads",
    "kpicore.metrics.support",
    "kpicore.channels",
    "kpicore.insights.defaults",
)


@dataclass
class PluginFailure:
    """An entry-point plugin that could not be loaded."""

    name: str
    reason: str


@dataclass
class LoadedPlugins:
    """What the manager holds, and what failed to load."""

    manager: pluggy.PluginManager
    failures: list[PluginFailure] = field(default_factory=list)


def new_plugin_manager(*, load_entry_points: bool = True) -> LoadedPlugins:
    """A fresh plugin manager with the default plugins and (optionally) entry-point plugins.

    ``KPI_LOAD_PLUGINS`` (comma list of entry-point names) restricts which entry points load;
    an empty value loads none. Built-ins always load. A plugin that fails to import is recorded,
    not raised, so the others keep working.
    """
    manager = pluggy.PluginManager("kpicore")
    manager.add_hookspecs(hookspecs)
    for module_name in DEFAULT_PLUGINS:
        manager.register(importlib.import_module(module_name), name=module_name)
    loaded = LoadedPlugins(manager)
    if load_entry_points:
        loaded.failures.extend(_load_entry_points(manager))
    return loaded


def _allowed_names() -> set[str] | None:
    value = os.environ.get("KPI_LOAD_PLUGINS")
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def _load_entry_points(manager: pluggy.PluginManager) -> list[PluginFailure]:
    allowed = _allowed_names()
    failures = []
    entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
    for unknown in sorted((allowed or set()) - {entry_point.name for entry_point in entry_points}):
        installed = ", ".join(sorted(entry_point.name for entry_point in entry_points)) or "none"
        failures.append(
            PluginFailure(
                unknown,
                f"KPI_LOAD_PLUGINS names it, but no such plugin is installed (installed: {installed})",
            )
        )
    for entry_point in entry_points:
        if allowed is not None and entry_point.name not in allowed:
            continue
        if manager.get_plugin(entry_point.name) is not None:
            continue
        try:
            plugin = entry_point.load()
            manager.register(plugin, name=entry_point.name)
        except Exception as error:
            failures.append(PluginFailure(entry_point.name, f"{type(error).__name__}: {error}"))
            continue
        distribution = getattr(entry_point, "dist", None)
        if distribution is not None:
            manager._plugin_distinfo.append(
                (plugin, distribution)
            )  # so list_plugin_distinfo() shows versions
    return failures


_loaded: LoadedPlugins | None = None


def load_plugins() -> LoadedPlugins:
    """The process-wide plugin manager, loaded once."""
    global _loaded
    if _loaded is None:
        _loaded = new_plugin_manager()
    return _loaded


def plugin_distribution(manager: pluggy.PluginManager, plugin) -> tuple[str, str] | None:
    """(distribution name, version) of a plugin loaded from an entry point, e.g.
    ``("kpicore-restaurant", "0.1.0")``; None for a built-in or in-process plugin."""
    for loaded_plugin, distribution in manager.list_plugin_distinfo():
        if loaded_plugin is plugin:
            return distribution.metadata["Name"], distribution.version
    return None


def plugin_version(manager: pluggy.PluginManager, plugin) -> str | None:
    """The distribution version of a plugin loaded from an entry point, else None."""
    for loaded_plugin, distribution in manager.list_plugin_distinfo():
        if loaded_plugin is plugin:
            return distribution.version
    return None
