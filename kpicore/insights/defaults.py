"""The built-in insight detectors, registered through the same hook as anyone's."""

from __future__ import annotations

from ..hookspecs import hookimpl


@hookimpl
def register_insights(register):
    from .concentration import Concentration
    from .drivers import Drivers
    from .forecast import Forecast
    from .trend import Trend
    from .unusual import UnusualChange
    from .year_over_year import YearOverYear

    register(UnusualChange())
    register(Trend())
    register(Forecast())
    register(Concentration())
    register(Drivers())
    register(YearOverYear())
