"""Default plugin: order metrics (revenue)."""

from __future__ import annotations

from ..hookspecs import hookimpl
from ..metric import Measure, Metric


class Revenue(Metric):
    name = "revenue"
    title = "Revenue"
    description = "Sum of order amounts with ordered_at in the period, refunds (negative amounts) included."
    unit = "currency"
    better = "higher"
    entity = "orders"
    time = "ordered_at"
    n = "orders"
    rules = ("Refunds count in the period they happen; guest orders (no customer) count.",)
    measures = {
        "revenue": Measure.sum("amount"),
        "orders": Measure.count(where=lambda t: t.amount.is_not(None)),
        "invalid": Measure.count(where=lambda t: t.amount.is_(None), warn="orders with no amount"),
    }

    def value(self, m):
        return m.revenue


@hookimpl(trylast=True)
def register_metrics(register):
    register(Revenue())
