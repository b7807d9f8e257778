"""A plain-Python reference for every stock metric, written from DESIGN section 6.

It reads the same rows the tests write to the sources (timestamps as text in any of SQLite's forms,
naive ones in UTC) and returns what the engine must return: value, n and the warning counts.
Deliberately naive: loops over rows, no SQL, no shared code with kpicore's metrics.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

UTC = dt.UTC


@dataclass
class Expected:
    """What a metric must give for one period."""

    value: float | None
    n: int | None
    warnings: list[int] = field(default_factory=list)  # counts of the non-empty warning kinds, sorted


def close(actual: float | None, wanted: float | None) -> bool:
    """Equal to 1e-9 (relative and absolute), or both None."""
    if actual is None or wanted is None:
        return actual is wanted
    return abs(actual - wanted) <= 1e-9 * max(1.0, abs(wanted))


def instant(value) -> dt.datetime | None:
    """A timestamp cell as an aware UTC datetime (naive text is UTC), or None."""
    if value is None:
        return None
    parsed = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def day(value) -> dt.date | None:
    return None if value is None else dt.date.fromisoformat(value)


def _in(moment, start, end) -> bool:
    return moment is not None and start <= moment < end


def _percent(numerator, denominator):
    return None if not denominator else 100.0 * numerator / denominator


def _ratio(numerator, denominator):
    return None if not denominator else numerator / denominator


def _warnings(*counts: int) -> list[int]:
    return sorted(count for count in counts if count)


def _is_whole(value) -> bool:
    return value is not None and float(value) == int(value)


# -- customers -----------------------------------------------------------------------------------------
def _customers(rows):
    for customer in rows.get("customers", []):
        yield customer, instant(customer.get("signup_at")), instant(customer.get("churned_at"))


def _valid_customer(signup, churned) -> bool:
    return signup is not None and (churned is None or churned >= signup)


def _invalid_customers(rows, end) -> int:
    return sum(
        1
        for _, signup, churned in _customers(rows)
        if not _valid_customer(signup, churned) and (signup is None or signup < end)
    )


def _starting(rows, start) -> list:
    return [
        (signup, churned)
        for _, signup, churned in _customers(rows)
        if _valid_customer(signup, churned) and signup < start and (churned is None or churned >= start)
    ]


def new_customers(rows, start, end, margin):
    new = sum(1 for _, signup, _ in _customers(rows) if _in(signup, start, end))
    missing = sum(1 for _, signup, _ in _customers(rows) if signup is None)
    return Expected(new, new, _warnings(missing))


def churn_rate(rows, start, end, margin):
    starting = _starting(rows, start)
    churned = sum(1 for _, left in starting if left is not None and left < end)
    return Expected(_percent(churned, len(starting)), len(starting), _warnings(_invalid_customers(rows, end)))


def retention_rate(rows, start, end, margin):
    starting = _starting(rows, start)
    retained = sum(1 for _, left in starting if left is None or left >= end)
    return Expected(
        _percent(retained, len(starting)), len(starting), _warnings(_invalid_customers(rows, end))
    )


def active_customers(rows, start, end, margin):
    active = sum(
        1
        for _, signup, churned in _customers(rows)
        if _valid_customer(signup, churned) and signup < end and (churned is None or churned >= end)
    )
    return Expected(active, active, _warnings(_invalid_customers(rows, end)))


# -- orders --------------------------------------------------------------------------------------------
def _orders(rows):
    for order in rows.get("orders", []):
        yield order.get("customer_id"), instant(order.get("ordered_at")), order.get("amount")


def _no_order_time(rows) -> int:
    return sum(1 for _, ordered, _ in _orders(rows) if ordered is None)


def _in_period_orders(rows, start, end):
    return [(customer, amount) for customer, ordered, amount in _orders(rows) if _in(ordered, start, end)]


def revenue(rows, start, end, margin):
    orders = _in_period_orders(rows, start, end)
    amounts = [amount for _, amount in orders if amount is not None]
    missing_amount = len(orders) - len(amounts)
    return Expected(sum(amounts), len(amounts), _warnings(missing_amount, _no_order_time(rows)))


def aov(rows, start, end, margin):
    orders = _in_period_orders(rows, start, end)
    sales = [amount for _, amount in orders if amount is not None and amount > 0]
    missing_amount = sum(1 for _, amount in orders if amount is None)
    return Expected(
        _ratio(sum(sales), len(sales)), len(sales), _warnings(missing_amount, _no_order_time(rows))
    )


def _lifetime(rows, end):
    """Valid orders before end by customer, and the lifetime warnings."""
    by_customer: dict = {}
    missing_amount = missing_customer = 0
    for customer, ordered, amount in _orders(rows):
        if ordered is None or ordered >= end:
            continue
        if amount is None:
            missing_amount += 1
        elif customer is None:
            missing_customer += 1
        else:
            by_customer.setdefault(customer, []).append(amount)
    return by_customer, _warnings(missing_amount, missing_customer, _no_order_time(rows))


def clv(rows, start, end, margin):
    by_customer, warnings = _lifetime(rows, end)
    total = sum(sum(amounts) for amounts in by_customer.values())
    average = _ratio(total, len(by_customer))
    return Expected(None if average is None else average * margin, len(by_customer), warnings)


def repeat_purchase_rate(rows, start, end, margin):
    by_customer, warnings = _lifetime(rows, end)
    purchases = [sum(1 for amount in amounts if amount > 0) for amounts in by_customer.values()]
    buyers = sum(1 for count in purchases if count >= 1)
    repeaters = sum(1 for count in purchases if count >= 2)
    return Expected(_percent(repeaters, buyers), buyers, warnings)


def clv_predictive(rows, start, end, margin):
    starting = _starting(rows, start)
    churned = sum(1 for _, left in starting if left is not None and left < end)
    orders = _in_period_orders(rows, start, end)
    period_revenue = sum(amount for _, amount in orders if amount is not None)
    missing_amount = sum(1 for _, amount in orders if amount is None)
    warnings = _warnings(_invalid_customers(rows, end), missing_amount, _no_order_time(rows))
    per_customer = _ratio(period_revenue, len(starting))
    churn = _ratio(churned, len(starting))
    value = None if per_customer is None or not churn else per_customer * margin / churn
    return Expected(value, len(starting), warnings)


# -- surveys -------------------------------------------------------------------------------------------
def _survey(rows, name, start, end, low, high, scorer):
    responses = [r for r in rows.get("survey_responses", []) if r.get("survey") == name]
    in_period = [r["score"] for r in responses if _in(instant(r.get("responded_at")), start, end)]
    valid = [s for s in in_period if s is not None and _is_whole(s) and low <= s <= high]
    missing_time = sum(1 for r in responses if r.get("responded_at") is None)
    value = _percent(scorer(valid), len(valid))
    return Expected(value, len(valid), _warnings(len(in_period) - len(valid), missing_time))


def nps(rows, start, end, margin):
    return _survey(rows, "nps", start, end, 0, 10, lambda s: sum(x >= 9 for x in s) - sum(x <= 6 for x in s))


def csat(rows, start, end, margin):
    return _survey(rows, "csat", start, end, 1, 5, lambda s: sum(x >= 4 for x in s))


# -- marketing, leads, support -------------------------------------------------------------------------
def cac(rows, start, end, margin):
    first_day, end_day = start.date(), end.date()  # periods start at local midnight
    spend_rows = [r for r in rows.get("marketing_spend", []) if r.get("spent_on") is not None]
    in_period = [r for r in spend_rows if first_day <= day(r["spent_on"]) < end_day]
    spend = sum(r["amount"] for r in in_period if r.get("amount") is not None)
    missing_amount = sum(1 for r in in_period if r.get("amount") is None)
    missing_day = len(rows.get("marketing_spend", [])) - len(spend_rows)
    new = sum(1 for _, signup, _ in _customers(rows) if _in(signup, start, end))
    missing_signup = sum(1 for _, signup, _ in _customers(rows) if signup is None)
    return Expected(_ratio(spend, new), new, _warnings(missing_amount, missing_day, missing_signup))


def conversion_rate(rows, start, end, margin):
    leads = [(instant(r.get("created_at")), instant(r.get("converted_at"))) for r in rows.get("leads", [])]
    cohort = [(created, converted) for created, converted in leads if _in(created, start, end)]
    valid = [converted for created, converted in cohort if converted is None or converted >= created]
    converted = sum(1 for moment in valid if moment is not None)
    missing = sum(1 for created, _ in leads if created is None)
    return Expected(_percent(converted, len(valid)), len(valid), _warnings(len(cohort) - len(valid), missing))


def fcr(rows, start, end, margin):
    resolved = [
        r.get("contacts") for r in rows.get("tickets", []) if _in(instant(r.get("resolved_at")), start, end)
    ]
    valid = [c for c in resolved if c is not None and _is_whole(c) and c >= 1]
    first = sum(1 for c in valid if c == 1)
    return Expected(_percent(first, len(valid)), len(valid), _warnings(len(resolved) - len(valid)))


def escalation_rate(rows, start, end, margin):
    tickets = rows.get("tickets", [])
    opened = [r.get("escalated") for r in tickets if _in(instant(r.get("opened_at")), start, end)]
    valid = [e for e in opened if e is not None]
    missing_time = sum(1 for r in tickets if r.get("opened_at") is None)
    return Expected(
        _percent(sum(1 for e in valid if e), len(valid)),
        len(valid),
        _warnings(len(opened) - len(valid), missing_time),
    )


REFERENCE = {
    function.__name__: function
    for function in (
        new_customers,
        churn_rate,
        retention_rate,
        active_customers,
        revenue,
        aov,
        clv,
        clv_predictive,
        repeat_purchase_rate,
        nps,
        csat,
        cac,
        conversion_rate,
        fcr,
        escalation_rate,
    )
}
#: The entities each metric reads (what a property test generates for it).
READS = {
    "new_customers": ("customers",),
    "churn_rate": ("customers",),
    "retention_rate": ("customers",),
    "active_customers": ("customers",),
    "revenue": ("orders",),
    "aov": ("orders",),
    "clv": ("orders",),
    "repeat_purchase_rate": ("orders",),
    "clv_predictive": ("customers", "orders"),
    "nps": ("survey_responses",),
    "csat": ("survey_responses",),
    "cac": ("customers", "marketing_spend"),
    "conversion_rate": ("leads",),
    "fcr": ("tickets",),
    "escalation_rate": ("tickets",),
}


#: Entities whose records carry the dimension themselves (else they reach it through customer_id).
OWN_DIMENSIONS = {"marketing_spend": ("channel",), "leads": ("channel",)}
NONE_SEGMENT = "(none)"


def segment_rows(rows: dict, dimension: str) -> dict[str, dict]:
    """The rows split by segment: each record goes to its own or its customer's value of ``dimension``."""
    by_customer = {c["customer_id"]: c.get(dimension) for c in rows.get("customers", [])}
    split: dict[str, dict] = {}
    for entity, records in rows.items():
        for record in records:
            if entity == "customers" or dimension in OWN_DIMENSIONS.get(entity, ()):
                value = record.get(dimension)
            elif entity in OWN_DIMENSIONS:
                continue  # cannot reach the dimension
            else:
                value = by_customer.get(record.get("customer_id"))
            segment = NONE_SEGMENT if value is None else str(value)
            split.setdefault(segment, {name: [] for name in rows})[entity].append(record)
    return split


def expected(metric: str, rows: dict, period, gross_margin: float = 1.0) -> Expected:
    """The reference result of ``metric`` over ``period`` (anything with aware ``start`` and ``end``)."""
    return REFERENCE[metric](rows, period.start, period.end, gross_margin)
