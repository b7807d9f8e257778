"""Default plugin: sales-funnel metrics (lead conversion rate)."""

from __future__ import annotations

from typing import ClassVar

from ..hookspecs import hookimpl
from ..metric import Measure, Metric, percent


def converted_before_created(t):
    """A conversion time earlier than the lead itself: an invalid record."""
    return t.converted_at.is_not(None) & (t.converted_at < t.created_at)


def valid_lead(t):
    return t.converted_at.is_(None) | (t.converted_at >= t.created_at)


class ConversionRate(Metric):
    name = "conversion_rate"
    title = "Lead conversion rate"
    description = "100 x leads created in the period that converted (whenever that happened) / leads created in the period."
    unit = "percent"
    better = "higher"
    entity = "leads"
    time = "created_at"
    n = "leads"
    rules = (
        "Cohort conversion: a past period's figure can still rise as late conversions arrive.",
        "A lead converted before it was created, or with no created_at, is left out and warned.",
        "Leads reach no customer: --by works for the leads' own channel only.",
    )
    measures: ClassVar[dict[str, Measure]] = {
        "converted": Measure.count(where=lambda t: t.converted_at.is_not(None) & valid_lead(t)),
        "leads": Measure.count(where=valid_lead),
        "invalid": Measure.count(
            where=converted_before_created, warn="leads converted before they were created"
        ),
        "no_time": Measure.missing_time("leads with no created_at"),
    }

    def value(self, m):
        return percent(m.converted, m.leads)


@hookimpl(trylast=True)
def register_metrics(register):
    register(ConversionRate())
