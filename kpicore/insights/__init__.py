"""Insights: small plugins (detectors) that find what needs attention in a metric's aggregates.

Plugin authors subclass :class:`Detector` and register an instance with ``register_insights``;
:func:`find_insights` runs them all. See docs/insights.md.
"""

from .base import Detector, Evidence, Insight, Number, Span, Word

__all__ = ["Detector", "Evidence", "Insight", "Number", "Span", "Word", "find_insights"]


def find_insights(*args, **kwargs):
    """See :func:`kpicore.insights.run.find_insights`."""
    from .run import find_insights as run

    return run(*args, **kwargs)
