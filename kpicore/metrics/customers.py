"""Default plugin: customer-base metrics (new customers, active customers, churn, retention)."""

from __future__ import annotations

from typing import ClassVar

from ..hookspecs import hookimpl
from ..metric import Measure, Metric, percent


def valid_customer(t):
    """A customer with a signup time, and no churn before it."""
    return t.signup_at.valid() & (
        t.churned_at.is_(None) | (t.churned_at.valid() & (t.churned_at >= t.signup_at))
    )


def invalid_customer(t, p):
    """Customers that would belong to the period but are unusable: no signup time, or churned before it."""
    return ~valid_customer(t) & (t.signup_at.is_(None) | (t.signup_at < p.end))


def starting_customers(t, p):
    """S: customers active at the start of the period (signed up before it, not churned before it)."""
    return valid_customer(t) & (t.signup_at < p.start) & (t.churned_at.is_(None) | (t.churned_at >= p.start))


INVALID_CUSTOMERS = Measure.count(
    where=invalid_customer,
    entity="customers",
    warn="customers with no signup time or churned before signing up",
)
STARTING_CUSTOMERS = Measure.count(where=starting_customers, entity="customers")
CHURNED_CUSTOMERS = Measure.count(
    where=lambda t, p: starting_customers(t, p) & (t.churned_at < p.end), entity="customers"
)


class NewCustomers(Metric):
    name = "new_customers"
    title = "New customers"
    description = "Customers whose signup_at is in the period."
    unit = "count"
    better = "higher"
    entity = "customers"
    time = "signup_at"
    n = "new"
    rules = (
        "Reads signup_at only: a customer who churned before signing up still counts here.",
        "A customer with no signup time is left out and warned.",
    )
    measures: ClassVar[dict[str, Measure]] = {
        "new": Measure.count(),
        "no_signup": Measure.missing_time("customers with no signup time"),
    }

    def value(self, m):
        return m.new


class ChurnRate(Metric):
    name = "churn_rate"
    title = "Churn rate"
    description = "100 x customers of S who churned in the period / S, where S = customers active at the period's start."
    unit = "percent"
    better = "lower"
    entity = "customers"
    n = "starting"
    rules = (
        "S = signup_at < start and (churned_at is NULL or churned_at >= start).",
        "Customers who join and leave inside the period are in neither part.",
        "A customer with no signup time or churned before signing up is left out and warned.",
    )
    measures: ClassVar[dict[str, Measure]] = {
        "starting": STARTING_CUSTOMERS,
        "churned": CHURNED_CUSTOMERS,
        "invalid": INVALID_CUSTOMERS,
    }

    def value(self, m):
        return percent(m.churned, m.starting)


class RetentionRate(Metric):
    name = "retention_rate"
    title = "Retention rate"
    description = (
        "100 x customers of S still active at the period's end / S, where S = customers active at its start."
    )
    unit = "percent"
    better = "higher"
    entity = "customers"
    n = "starting"
    rules = (
        "Cohort retention: S = signup_at < start and (churned_at is NULL or churned_at >= start).",
        "Still active at the end: churned_at is NULL or churned_at >= end.",
        "Customers who join during the period are not in S, so new signups cannot mask churn.",
        "A customer with no signup time or churned before signing up is left out and warned.",
    )
    measures: ClassVar[dict[str, Measure]] = {
        "starting": STARTING_CUSTOMERS,
        "retained": Measure.count(
            where=lambda t, p: starting_customers(t, p) & (t.churned_at.is_(None) | (t.churned_at >= p.end))
        ),
        "invalid": INVALID_CUSTOMERS,
    }

    def value(self, m):
        return percent(m.retained, m.starting)


class ActiveCustomers(Metric):
    name = "active_customers"
    title = "Active customers"
    description = (
        "Customers signed up before the period's end and not churned before it (churned_at NULL or >= end)."
    )
    unit = "count"
    better = "higher"
    entity = "customers"
    n = "active"
    rules = (
        "A snapshot at the period's end: who joined and left inside the period is not active.",
        "A customer with no signup time or churned before signing up is left out and warned.",
    )
    measures: ClassVar[dict[str, Measure]] = {
        "active": Measure.count(
            where=lambda t, p: (
                valid_customer(t) & (t.signup_at < p.end) & (t.churned_at.is_(None) | (t.churned_at >= p.end))
            )
        ),
        "invalid": INVALID_CUSTOMERS,
    }

    def value(self, m):
        return m.active


@hookimpl(trylast=True)
def register_metrics(register):
    register(NewCustomers())
    register(ChurnRate())
    register(RetentionRate())
    register(ActiveCustomers())
