"""Default plugin: support metrics (first-contact resolution, escalation rate)."""

from __future__ import annotations

from typing import ClassVar

from ..hookspecs import hookimpl
from ..metric import Measure, Metric, percent


def valid_contacts(t):
    """contacts is a whole number >= 1."""
    return t.contacts.is_not(None) & t.is_integer(t.contacts) & (t.contacts >= 1)


class FirstContactResolution(Metric):
    name = "fcr"
    title = "First-contact resolution"
    description = (
        "100 x tickets resolved in the period with exactly 1 contact / tickets resolved in the period."
    )
    unit = "percent"
    better = "higher"
    entity = "tickets"
    time = "resolved_at"
    n = "resolved"
    rules = (
        "Only resolved tickets count, in the period of their resolved_at; open tickets (NULL) are not invalid.",
        "A resolved ticket whose contacts is NULL, not a whole number or < 1 is left out and warned.",
    )
    measures: ClassVar[dict[str, Measure]] = {
        "first_contact": Measure.count(where=lambda t: valid_contacts(t) & (t.contacts == 1)),
        "resolved": Measure.count(where=valid_contacts),
        "invalid": Measure.count(
            where=lambda t: ~valid_contacts(t),
            warn="resolved tickets with contacts missing, not a whole number or below 1",
        ),
    }

    def value(self, m):
        return percent(m.first_contact, m.resolved)


class EscalationRate(Metric):
    name = "escalation_rate"
    title = "Escalation rate"
    description = "100 x tickets opened in the period that were escalated / tickets opened in the period."
    unit = "percent"
    better = "lower"
    entity = "tickets"
    time = "opened_at"
    n = "tickets"
    rules = (
        "Reads opened_at and escalated only: a ticket with contacts = 0 still counts here.",
        "A ticket with escalated NULL, or with no opened_at, is left out and warned.",
    )
    measures: ClassVar[dict[str, Measure]] = {
        "escalated": Measure.count(where=lambda t: t.escalated.is_not(None) & t.truthy(t.escalated)),
        "tickets": Measure.count(where=lambda t: t.escalated.is_not(None)),
        "invalid": Measure.count(
            where=lambda t: t.escalated.is_(None), warn="tickets with escalated missing"
        ),
        "no_time": Measure.missing_time("tickets with no opened_at"),
    }

    def value(self, m):
        return percent(m.escalated, m.tickets)


@hookimpl(trylast=True)
def register_metrics(register):
    register(FirstContactResolution())
    register(EscalationRate())
