"""kpicore: customer and industry KPIs computed where the data lives.

The public API for plugin authors. Everything not listed in ``__all__`` is internal.
"""

from .errors import (
    ConfigError,
    DeliveryError,
    KpiError,
    MappingError,
    MetricError,
    PeriodError,
    PluginError,
    SourceError,
)
from .hookspecs import hookimpl
from .metric import Measure, Metric, percent, ratio
from .model import Column, Entity
from .periods import Period, parse_period
from .version import __version__

__all__ = [
    "Column",
    "ConfigError",
    "DeliveryError",
    "Entity",
    "KpiError",
    "MappingError",
    "Measure",
    "Metric",
    "MetricError",
    "Period",
    "PeriodError",
    "PluginError",
    "SourceError",
    "__version__",
    "hookimpl",
    "parse_period",
    "percent",
    "ratio",
]
