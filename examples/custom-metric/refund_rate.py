"""An example kpicore metric plugin: refunds as a share of orders."""

from kpicore import Measure, Metric, hookimpl, percent


class RefundRate(Metric):
    name = "refund_rate"
    title = "Refund rate"
    description = "Refunds as a share of orders placed in the period."
    unit = "percent"
    better = "lower"
    entity, time, n = "orders", "ordered_at", "orders"
    measures = {
        "refunds": Measure.count(where=lambda t: t.amount < 0),
        "orders": Measure.count(where=lambda t: t.amount > 0),
    }

    def value(self, m):
        return percent(m.refunds, m.orders)


@hookimpl
def register_metrics(register):
    register(RefundRate())
