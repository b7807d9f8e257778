"""Default plugin: marketing metrics (customer acquisition cost)."""

from __future__ import annotations

from typing import ClassVar

from ..hookspecs import hookimpl
from ..metric import Measure, Metric, ratio


class CustomerAcquisitionCost(Metric):
    name = "cac"
    title = "Customer acquisition cost"
    description = "Marketing spend with spent_on in the period / customers whose signup_at is in the period."
    unit = "currency"
    better = "lower"
    n = "new"
    rules = (
        "spent_on is a date in the business timezone: a day belongs to the period whose local dates hold it.",
        (
            "--by channel pairs each channel's spend with the customers of that channel; other dimensions "
            "cannot reach spend, so they give no segments and a warning."
        ),
        "Negative spend (a credit or correction) is kept: it is a value, not an invalid record.",
        "A spend row with no amount or no date, or a customer with no signup time, is left out and warned.",
        "No new customers gives NULL, never infinity.",
    )
    measures: ClassVar[dict[str, Measure]] = {
        "spend": Measure.sum("amount", entity="marketing_spend", time="spent_on"),
        "new": Measure.count(entity="customers", time="signup_at"),
        "no_amount": Measure.count(
            where=lambda t: t.amount.is_(None),
            entity="marketing_spend",
            time="spent_on",
            warn="marketing spend rows with no amount or an amount that is not a number (kpi check --data shows examples)",
        ),
        "no_date": Measure.missing_time(
            "marketing spend rows with no spent_on date", entity="marketing_spend", time="spent_on"
        ),
        "no_signup": Measure.missing_time(
            "customers with no signup time", entity="customers", time="signup_at"
        ),
    }

    def value(self, m):
        return ratio(m.spend, m.new)


@hookimpl(trylast=True)
def register_metrics(register):
    register(CustomerAcquisitionCost())
