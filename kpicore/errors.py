"""The errors kpicore raises. Only the CLI turns them into messages and exit codes."""

from __future__ import annotations


class KpiError(Exception):
    """Base of every error kpicore raises on purpose."""

    exit_code = 1


class ConfigError(KpiError):
    """kpi.toml, a CLI option or an environment variable is wrong."""

    exit_code = 2


class PeriodError(ConfigError):
    """A period string could not be understood."""


class MetricError(ConfigError):
    """A metric is unknown or badly defined."""


class MappingError(ConfigError):
    """An entity, table or column of the source does not resolve."""


class PluginError(KpiError):
    """A plugin failed to load or registered something invalid."""

    exit_code = 2


class SourceError(KpiError):
    """The data source failed at run time: unreachable, timed out, unreadable data."""


class DeliveryError(KpiError):
    """A digest could not be delivered to a destination."""
