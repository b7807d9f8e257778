"""The registry: metrics, entities, connectors, dialects and channels collected from the plugins' hooks."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import MetricError, PluginError
from .plugins import DEFAULT_PLUGINS, LoadedPlugins, load_plugins
from .settings import did_you_mean


@dataclass
class Registration:
    """One thing a plugin registered."""

    kind: str
    name: str
    item: Any
    plugin: str
    override: bool = False  # registered with override=True: it replaces another plugin's
    replaces: str | None = None  # the plugin whose registration it replaced


@dataclass(frozen=True)
class Settings:
    """The keys a plugin reads from one kpi.toml table (``register_settings``).

    ``section`` is the dotted table name (``packs.restaurant``, ``channels.pigeon``); ``keys`` maps each
    allowed key to a one-line description (empty when the plugin gave none).
    """

    section: str
    keys: dict[str, str]


@dataclass(frozen=True)
class DemoPack:
    """Sample data a plugin adds to `kpi demo --pack NAME`.

    ``generate(path, today)`` adds the pack's tables to the demo SQLite file at ``path`` (a
    ``pathlib.Path``; the stock tables are already there), with data up to the day before ``today``
    (a ``datetime.date``), and returns ``{table: row count}``. ``config`` is an optional kpi.toml
    fragment (e.g. a ``[packs.NAME]`` section) the pack's metrics need on that data.
    """

    name: str
    generate: Callable
    config: str = ""


@dataclass(frozen=True)
class Catalog:
    """A plugin's translations (``register_catalogs``): the gettext ``domain`` and the ``locale_dir``
    holding ``<lang>/LC_MESSAGES/<domain>.mo``."""

    domain: str
    locale_dir: str


@dataclass
class Registry:
    """Everything the plugins provide, by kind and name, with who provided it.

    A registration that is invalid or a duplicate is rejected and kept in ``problems`` (naming the
    plugin and the reason); the others keep working. ``strict`` registries raise instead.
    """

    metrics: dict[str, Registration] = field(default_factory=dict)
    entities: dict[str, Registration] = field(default_factory=dict)
    connectors: dict[str, Registration] = field(default_factory=dict)
    dialects: dict[str, Registration] = field(default_factory=dict)
    channels: dict[str, Registration] = field(default_factory=dict)
    demo_data: dict[str, Registration] = field(default_factory=dict)
    settings: dict[str, Registration] = field(default_factory=dict)
    #: Insight detectors by kind (``register_insights``).
    insights: dict[str, Registration] = field(default_factory=dict)
    #: Plugins' gettext catalogs by domain (``register_catalogs``).
    catalogs: dict[str, Registration] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    #: Duplicates (a name two plugins register, neither with override=True): errors at start-up.
    conflicts: list[str] = field(default_factory=list)
    plugins: LoadedPlugins | None = None

    def metric(self, name: str):
        """The metric called ``name``; an unknown name is an error suggesting the closest ones."""
        try:
            return self.metrics[name].item
        except KeyError:
            hint = did_you_mean(name, self.metrics, n=3, cutoff=0.5, quote=False)
            raise MetricError(f"unknown metric {name!r}{hint}; `kpi metrics` lists them") from None

    def entity(self, name: str):
        return self.entities[name].item if name in self.entities else None

    def provider(self, kind: str, name: str) -> str:
        return getattr(self, kind)[name].plugin

    def raise_conflicts(self) -> None:
        """Stop with a PluginError when two plugins registered the same name (see ``conflicts``)."""
        if self.conflicts:
            more = (
                f" (and {len(self.conflicts) - 1} more; `kpi plugins` lists them)"
                if len(self.conflicts) > 1
                else ""
            )
            raise PluginError(f"{self.conflicts[0]}{more}")


OVERRIDE_HINT = (
    "uninstall one (or leave it out of KPI_LOAD_PLUGINS), or, to replace the other on purpose, register "
    "with register(item, override=True)"
)


def _collector(registry: Registry, kind: str, plugin_name: str, key, validate, strict: bool):
    table: dict[str, Registration] = getattr(registry, kind)

    def register(item, *, override: bool = False):
        try:
            if validate is not None:
                validate(item)
            name = key(item)
        except Exception as error:
            problem = (
                f"plugin {plugin_name}: invalid {kind[:-1] if kind != 'settings' else 'settings'}: {error}"
            )
        else:
            existing = table.get(name)
            if existing is None:
                table[name] = Registration(kind, name, item, plugin_name, override=bool(override))
                return
            if bool(override) != existing.override:
                # A deliberate override wins whichever plugin loaded first.
                if override:
                    table[name] = Registration(
                        kind, name, item, plugin_name, override=True, replaces=existing.plugin
                    )
                else:
                    table[name] = replace(existing, replaces=plugin_name)
                return
            what = kind[:-1] if kind != "settings" else "settings for"
            problem = f"{what} {name!r} is registered twice: by {existing.plugin} and by {plugin_name}; {OVERRIDE_HINT}"
            if plugin_name in DEFAULT_PLUGINS and existing.plugin not in DEFAULT_PLUGINS:
                table[name] = Registration(kind, name, item, plugin_name)  # never silently a third party's
            registry.conflicts.append(problem)
        if strict:
            raise PluginError(problem)
        registry.problems.append(problem)

    return register


def _settings(section, keys=()) -> Settings:
    """``register(section, keys)`` of the register_settings hook, as Settings."""
    if not isinstance(section, str) or not re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z0-9_-]+)+", section):
        raise TypeError(
            f"settings section must be a dotted table name such as 'packs.bakery', not {section!r}"
        )
    if isinstance(keys, str) or not all(isinstance(k, str) and k for k in keys):
        raise TypeError(f"settings {section!r}: keys must be a list of names or a dict of name = description")
    described = dict(keys) if isinstance(keys, dict) else dict.fromkeys(keys, "")
    return Settings(section, {name: str(text or "") for name, text in described.items()})


def _adapted_register(collect, build, what: str, registry: Registry, plugin_name: str, strict: bool):
    """Adapt a hook's ``register(...)`` to the one-item collector: ``build(...)`` makes the item, and
    a TypeError from it is a problem of the plugin (raised when ``strict``)."""

    signature = inspect.signature(build)

    def register(*args, override: bool = False, **kwargs):
        signature.bind(
            *args, **kwargs
        )  # a call with the wrong arguments is the hook failing, as for any hook
        try:
            item = build(*args, **kwargs)
        except TypeError as error:
            problem = f"plugin {plugin_name}: invalid {what}: {error}"
            if strict:
                raise PluginError(problem) from None
            registry.problems.append(problem)
            return
        collect(item, override=override)

    return register


def _demo_pack(name, generate=None, config: str = "") -> DemoPack:
    """``register(name, generate, config="")`` of the register_demo_data hook, as a DemoPack."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"demo data name must be a non-empty string, not {name!r}")
    if not callable(generate):
        raise TypeError(f"demo data {name!r}: generate must be callable as generate(path, today)")
    return DemoPack(name, generate, config or "")


def _validate_metric(metric) -> None:
    from .metric import Metric

    if not isinstance(metric, Metric):
        raise TypeError(f"{metric!r} is not a kpicore.Metric instance")
    metric.validate()


def _validate_dialect(dialect) -> None:
    from .dialects import validate

    validate(dialect)


def _validate_detector(detector) -> None:
    from .insights.base import validate_detector

    validate_detector(detector)


def build_registry(plugins: LoadedPlugins | None = None, *, strict: bool = False) -> Registry:
    """Call every collector hook of every plugin and gather what they register."""
    plugins = plugins or load_plugins()
    manager = plugins.manager
    registry = Registry(plugins=plugins)
    registry.problems.extend(f"plugin {f.name} failed to load: {f.reason}" for f in plugins.failures)
    if strict and registry.problems:
        raise PluginError(registry.problems[0])
    hooks = [
        ("entities", "register_entities", lambda e: e.name, None),
        ("connectors", "register_connectors", lambda c: c.name, None),
        ("dialects", "register_dialects", lambda d: d.name, _validate_dialect),
        ("channels", "register_channels", lambda c: c.scheme, None),
        ("metrics", "register_metrics", lambda m: m.name, _validate_metric),
        ("demo_data", "register_demo_data", lambda d: d.name, None),
        ("settings", "register_settings", lambda s: s.section, None),
        ("insights", "register_insights", lambda d: d.kind, _validate_detector),
        ("catalogs", "register_catalogs", lambda c: c.domain, None),
    ]
    for kind, hook_name, key, validate in hooks:
        hook = getattr(manager.hook, hook_name)
        # Call implementations one by one so each registration is attributed to its plugin; pluggy
        # orders them last-registered-first, built-ins (tryfirst/trylast aside) last.
        for implementation in reversed(hook.get_hookimpls()):
            plugin_name = manager.get_name(implementation.plugin) or repr(implementation.plugin)
            register = _collector(registry, kind, plugin_name, key, validate, strict)
            if kind == "demo_data":
                register = _adapted_register(register, _demo_pack, "demo data", registry, plugin_name, strict)
            elif kind == "settings":
                register = _adapted_register(register, _settings, "settings", registry, plugin_name, strict)
            elif kind == "catalogs":
                register = _catalog_register(register, registry, plugin_name, strict)
            try:
                implementation.function(register=register)
            except Exception as error:  # a hook that raises must not take the other plugins down
                problem = f"plugin {plugin_name}: {hook_name} failed: {type(error).__name__}: {error}"
                if strict:
                    raise PluginError(problem) from error
                registry.problems.append(problem)
    # Every _() now also looks in the plugins' catalogs (after kpicore's own).
    from . import i18n

    i18n.add_catalogs((r.item.domain, r.item.locale_dir) for r in registry.catalogs.values())
    return registry


def _catalog_register(collect, registry: Registry, plugin_name: str, strict: bool):
    """Adapt ``register(domain, locale_dir)`` to the one-item collector."""

    def register(domain, locale_dir, *, override: bool = False):
        if not isinstance(domain, str) or not domain.isidentifier() or domain == "kpicore":
            problem = f'plugin {plugin_name}: register_catalogs: domain {domain!r} must be a name such as "kpicore_bakery"'
            if strict:
                raise PluginError(problem)
            registry.problems.append(problem)
            return
        collect(Catalog(domain, str(locale_dir)), override=override)

    return register


_registry: Registry | None = None


def get_registry(*, allow_conflicts: bool = False) -> Registry:
    """The process-wide registry, built once from the process-wide plugin manager.

    Two plugins registering the same name is an error here, at start-up (a PluginError naming both);
    ``allow_conflicts`` returns the registry anyway, for the commands that report problems
    (``kpi plugins``, ``kpi check``).
    """
    global _registry
    if _registry is None:
        _registry = build_registry()
    if not allow_conflicts:
        _registry.raise_conflicts()
    return _registry
