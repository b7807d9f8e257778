"""The built-in insight detectors, registered through the same hook as anyone's."""

from __future__ import annotations

from ..hookspecs import hookimpl


@hookimpl
def register_insights(register):
    from .concentration import Concentration
    from .drivers import Drivers
    from .year_over_year import YearOverYear

    register(Concentration())
    register(Drivers())
    register(YearOverYear())
