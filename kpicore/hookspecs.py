"""The hooks a kpicore plugin can implement. Each is documented with an example in docs/plugins.md.

Also the read side of what the hooks fill: :class:`Registrations` is what kpicore's modules read of the
registry (``kpicore.registry.Registry`` is one), so that they can take it without importing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pluggy import HookimplMarker, HookspecMarker

hookspec = HookspecMarker("kpicore")
hookimpl = HookimplMarker("kpicore")


class Registered(Protocol):
    """One thing a plugin registered: ``item`` (the metric, connector, channel...) and the plugin's name."""

    @property
    def name(self) -> str: ...
    @property
    def item(self) -> Any: ...
    @property
    def plugin(self) -> str: ...


class Registrations(Protocol):
    """The registrations of each hook, by name: a metric's, an entity's, a connector's, a dialect's, a
    channel's scheme, a settings section, an insight kind."""

    @property
    def metrics(self) -> Mapping[str, Registered]: ...
    @property
    def entities(self) -> Mapping[str, Registered]: ...
    @property
    def connectors(self) -> Mapping[str, Registered]: ...
    @property
    def dialects(self) -> Mapping[str, Registered]: ...
    @property
    def channels(self) -> Mapping[str, Registered]: ...
    @property
    def settings(self) -> Mapping[str, Registered]: ...
    @property
    def insights(self) -> Mapping[str, Registered]: ...


@hookspec
def register_metrics(register):
    """Register metrics: call ``register(metric)`` once per Metric instance."""


@hookspec
def register_entities(register):
    """Register entities (canonical tables) that metrics read: ``register(entity)``."""


@hookspec
def register_connectors(register):
    """Register data-source connectors: ``register(connector)``; the first whose ``handles(url)`` is true wins."""


@hookspec
def register_dialects(register):
    """Register SQL dialects: ``register(DialectSubclass)``, one per SQLAlchemy dialect name it serves."""


@hookspec
def register_channels(register):
    """Register delivery channels for digests: ``register(channel)``, one per destination scheme."""


@hookspec
def register_insights(register):
    """Register insight detectors: ``register(detector)``, one ``kpicore.insights.Detector`` per insight kind."""


@hookspec
def register_settings(register):
    """Declare the kpi.toml keys the plugin reads: ``register(section, keys)``, e.g. ``register("packs.bakery", ["opens"])``.

    ``section`` is a dotted table name (``packs.NAME``, ``channels.NAME``); ``keys`` the names allowed in
    it (a dict maps each to a one-line description). ``kpi check`` rejects every other key there.
    """


@hookspec
def register_catalogs(register):
    """Register the plugin's translations: ``register(domain, locale_dir)``, a gettext domain and the folder
    holding ``<lang>/LC_MESSAGES/<domain>.mo`` (titles, definitions and warnings of its metrics)."""


@hookspec
def register_commands(cli):
    """Add commands to the ``kpi`` click group."""


@hookspec
def register_demo_data(register):
    """Register sample data for ``kpi demo --pack NAME``: ``register(name, generate, config="")``.

    ``generate(path, today)`` adds the plugin's tables to the demo SQLite file; ``config`` is an optional
    kpi.toml fragment the data needs.
    """


@hookspec
def prepare_jinja2_environment(env, config):
    """Modify the Jinja2 environment used to render digests (add filters, globals)."""
