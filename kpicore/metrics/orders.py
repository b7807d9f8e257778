"""Default plugin: order metrics (revenue, AOV, historical and predictive CLV, repeat purchase rate).

CLV and repeat purchase rate are lifetime metrics: they read every order before the period's end.
They share the derived entity ``customer_orders`` (one row per customer: the time of their first
order, first purchase and second purchase), built once in SQL with a window function, so the
engine evaluates both from one scan of orders.
"""

from __future__ import annotations

from typing import ClassVar

from ..hookspecs import hookimpl
from ..metric import Measure, Metric, mean_variance, percent, ratio
from ..model import Column, Entity
from .customers import CHURNED_CUSTOMERS, INVALID_CUSTOMERS, STARTING_CUSTOMERS

#: Time columns of ``customer_orders``: when each customer's first order, first purchase (amount > 0)
#: and second purchase happened.
CUSTOMER_ORDER_TIMES = ("first_order_at", "first_purchase_at", "second_purchase_at")


def derive_customer_orders(source):
    """``customer_orders`` as SQL: one row per customer with a valid order (known customer, amount, time).

    Orders are ranked per customer by their normalised time (so SQLite's text forms order correctly),
    once among all of the customer's orders and once among purchases (amount > 0) apart from refunds.
    The time columns keep the raw ``ordered_at`` values, so period bounds compare exactly as on orders.
    """
    import sqlalchemy as sa

    orders = source.relation("orders")
    ordered_at = source.row("orders").ordered_at
    customer_id, amount = orders.columns["customer_id"], orders.columns["amount"]
    order_by = (ordered_at.sortable(), orders.columns["order_id"])
    is_purchase = sa.case((amount > 0, 1), else_=0)
    ranked = (
        sa.select(
            customer_id.label("customer_id"),
            ordered_at.sql.label("ordered_at"),
            amount.label("amount"),
            sa.func.row_number().over(partition_by=customer_id, order_by=order_by).label("order_rank"),
            sa.func.row_number()
            .over(partition_by=(customer_id, is_purchase), order_by=order_by)
            .label("kind_rank"),
        )
        .select_from(orders.from_)
        .where(customer_id.is_not(None), amount.is_not(None), ordered_at.valid())
        .subquery("ranked_orders")
    )
    r = ranked.c

    def time_of(condition):
        return sa.func.max(sa.case((condition, r.ordered_at)))

    per_customer = (
        sa.select(
            r.customer_id,
            time_of(r.order_rank == 1).label("first_order_at"),
            time_of(sa.and_(r.amount > 0, r.kind_rank == 1)).label("first_purchase_at"),
            time_of(sa.and_(r.amount > 0, r.kind_rank == 2)).label("second_purchase_at"),
        )
        .group_by(r.customer_id)
        .subquery("customer_orders")
    )
    columns = {name: per_customer.c[name] for name in ("customer_id", *CUSTOMER_ORDER_TIMES)}
    storage = {name: orders.storage["ordered_at"] for name in CUSTOMER_ORDER_TIMES}
    return per_customer, columns, storage


#: The most buckets the per-customer pass records as the bits of one integer (a 64-bit sum); a longer
#: trend falls back to a running count over each customer's buckets.
MAX_MASK_BUCKETS = 62
#: Up to this many buckets (a period and the one before, a year back too), the per-customer pass is
#: one GROUP BY customer counting the purchases up to each bucket, rather than a GROUP BY (customer,
#: bucket) grouped again by customer: one aggregation instead of two, at one count per bucket per row
#: (where the database computes the subquery's bucket once for its several uses, and hashes groups:
#: where a GROUP BY sorts, SQLite, the sort of every order sets the time and the five aggregates per
#: row cost more than the second grouping saves, 1.06-1.11 s against 0.94-1.05 s at 1 M orders).
ONE_PASS_BUCKETS = 8


#: Where GROUP BY sorts (SQLite), a period and the one before (three buckets before the last boundary)
#: take one sort of the orders by customer with two counts per row (``_customer_buckets_in_one_sort``),
#: rather than a sort by (customer, bucket) and a second one by customer.
SORTED_ONE_PASS_BUCKETS = 3
#: The purchases of buckets 1 and 2 are counted in one integer, bucket 2's from bit 31 on.
PACKED = 2**31


def derive_customer_orders_in_buckets(source, boundaries):
    """``customer_orders`` in bucket space: per customer, the *bucket* of each of its three times.

    The same rows as ``derive_customer_orders`` (valid orders of known customers), without ordering
    them: one GROUP BY (customer, bucket of ordered_at) counting purchases (amount > 0), then one GROUP
    BY customer over those groups. The first order falls in the customer's first bucket and the first
    purchase in the first bucket holding one. The second purchase falls in the first bucket where two
    purchases have happened: the first bucket holding two, or the second bucket holding one, whichever
    comes first; the buckets holding one are the bits of an integer (a sum of distinct powers of two),
    so no running count, and no second sort, is needed. Orders past the last boundary are left out:
    no window holds them.
    """
    import sqlalchemy as sa

    raw = source.relation("orders")
    t = source.row("orders")
    where = sa.and_(
        raw.columns["customer_id"].is_not(None),
        raw.columns["amount"].is_not(None),
        t.ordered_at.range(None, boundaries[-1]),
    )
    customer_id, amount = t.customer_id, t.amount
    count = len(boundaries)  # buckets 0 .. count - 1 fall before the last boundary
    if count <= ONE_PASS_BUCKETS and source.dialect.buckets_after_grouping and t.ordered_at.typed:
        return _customer_buckets_after_grouping(source, raw, t, boundaries)
    if (
        count <= ONE_PASS_BUCKETS
        and source.dialect.reuses_subquery_values
        and not source.dialect.groups_by_sorting
    ):
        return _customer_buckets_in_one_pass(source, raw, t, boundaries)
    if count <= SORTED_ONE_PASS_BUCKETS and source.dialect.groups_by_sorting:
        return _customer_buckets_in_one_sort(source, raw, t, boundaries)
    # Each order's bucket computed once per row, grouped as a plain value (Source.once_per_row).
    rows = source.once_per_row(
        sa.select(
            customer_id.label("customer_id"),
            t.ordered_at.bucket(boundaries).label("bucket"),
            sa.case((amount > 0, 1)).label("purchase"),
        )
        .select_from(raw.from_)
        .where(where),
        "customer_order_rows",
    )
    per_bucket = (
        sa.select(rows.c.customer_id, rows.c.bucket, sa.func.count(rows.c.purchase).label("purchases"))
        .group_by(rows.c.customer_id, rows.c.bucket)
        .subquery("customer_order_buckets")
    )
    if count > MAX_MASK_BUCKETS:
        return _customer_buckets_by_running_count(source, per_bucket, count)
    return _customer_buckets_by_mask(source, per_bucket, count)


def _customer_buckets_by_mask(source, per_bucket, count):
    """``customer_orders`` from the (customer, bucket, purchases) groups for at most ``MAX_MASK_BUCKETS``
    buckets: the buckets holding one purchase are the bits of an integer, so no running count is needed."""
    import sqlalchemy as sa

    b = per_bucket.c

    def power_of_two(bucket):
        return sa.case(*((bucket == j, sa.literal(2**j, sa.BigInteger)) for j in range(count)))

    per_customer = (
        sa.select(
            b.customer_id,
            sa.func.min(b.bucket).label("first_order_at"),
            sa.func.min(sa.case((b.purchases >= 1, b.bucket))).label("first_purchase_at"),
            sa.func.min(sa.case((b.purchases >= 2, b.bucket))).label("twice_at"),
            sa.func.sum(sa.case((b.purchases >= 1, power_of_two(b.bucket)))).label("purchase_buckets"),
        )
        .where(b.bucket.is_not(None), b.bucket < count)
        .group_by(b.customer_id)
        .subquery("customer_order_masks")
    )
    c = per_customer.c
    # The buckets holding a purchase after the first one: bucket j is among them when the remaining
    # sum has a bit at or below j, that is when it is not a multiple of 2^(j + 1).
    later = c.purchase_buckets - power_of_two(c.first_purchase_at)
    second = sa.case(
        *(
            (sa.or_(later % sa.literal(2 ** (j + 1), sa.BigInteger) != 0, c.twice_at <= j), j)
            for j in range(count)
        )
    )
    derived = source.once_per_row(
        sa.select(
            c.customer_id, c.first_order_at, c.first_purchase_at, second.label("second_purchase_at")
        ).select_from(per_customer),
        "customer_orders",
    )
    return derived, {name: derived.c[name] for name in ("customer_id", *CUSTOMER_ORDER_TIMES)}


def _customer_order_rows(source, raw, t, boundaries):
    """Each order with a customer before the last boundary: its customer, bucket and cleaned amount,
    computed once per row (``Source.once_per_row``)."""
    import sqlalchemy as sa

    return source.once_per_row(
        sa.select(
            t.customer_id.label("customer_id"),
            t.ordered_at.bucket(boundaries).label("bucket"),
            t.amount.label("amount"),
        )
        .select_from(raw.from_)
        .where(raw.columns["customer_id"].is_not(None), t.ordered_at.range(None, boundaries[-1])),
        "customer_order_rows",
    )


def _customer_buckets_in_one_pass(source, raw, t, boundaries):
    """``customer_orders`` in bucket space for a few buckets: one GROUP BY customer over the valid
    orders before the last boundary. The first order and purchase fall in the customer's least bucket
    (of a purchase); the second purchase in the least bucket j up to which two purchases happened,
    from one count of purchases up to each bucket. Each order's bucket and cleaned amount are computed
    once per row (``Source.once_per_row``): the amount filter reads the value the purchase flag reads."""
    import sqlalchemy as sa

    count = len(boundaries)
    r = _customer_order_rows(source, raw, t, boundaries).c
    purchase = r.amount > 0

    def purchases_up_to(j: int):
        return sa.func.count(sa.case((sa.and_(purchase, r.bucket <= j), 1)))

    second = sa.case(*((purchases_up_to(j) >= 2, j) for j in range(count)))
    per_customer = (
        sa.select(
            r.customer_id,
            sa.func.min(r.bucket).label("first_order_at"),
            sa.func.min(sa.case((purchase, r.bucket))).label("first_purchase_at"),
            second.label("second_purchase_at"),
        )
        .where(r.amount.is_not(None), r.bucket.is_not(None), r.bucket < count)
        .group_by(r.customer_id)
        .subquery("customer_orders")
    )
    return per_customer, {name: per_customer.c[name] for name in ("customer_id", *CUSTOMER_ORDER_TIMES)}


def _customer_buckets_after_grouping(source, raw, t, boundaries):
    """``customer_orders`` in bucket space for a few buckets, where the database compares times stored
    as times: one GROUP BY customer over the valid orders before the last boundary on the raw times,
    the buckets taken of the customer's aggregates afterwards. The first order is the bucket of the
    least time, the first purchase that of the least time of a purchase; the second purchase is the
    least bucket j up to which two purchases happened (all purchases less those at or after boundary
    j, one count per boundary but the last, which every row is before). No CASE chain per order: one
    comparison per boundary. The key is ``Dialect.grouping_key``: MariaDB reads the orders through an
    index on ``customer_id`` when it groups by the bare column (1 M orders, timed by hand: 1.95-1.99 s
    against 2.94-2.98 s for the two-step grouping, docs/performance.md)."""
    import sqlalchemy as sa

    count = len(boundaries)
    purchase = t.amount > 0
    customer_id = source.dialect.grouping_key(t.customer_id)
    later = [
        sa.func.count(sa.case((sa.and_(purchase, t.ordered_at >= boundary), 1))).label(f"later_{j}")
        for j, boundary in enumerate(boundaries[:-1])
    ]
    per_customer = (
        sa.select(
            customer_id.label("customer_id"),
            sa.func.min(t.ordered_at.sql).label("first_at"),
            sa.func.min(sa.case((purchase, t.ordered_at.sql))).label("first_purchase_raw"),
            sa.func.count(sa.case((purchase, 1))).label("purchases"),
            *later,
        )
        .select_from(raw.from_)
        .where(
            raw.columns["customer_id"].is_not(None),
            raw.columns["amount"].is_not(None),
            t.ordered_at.range(None, boundaries[-1]),
        )
        .group_by(customer_id)
        .subquery("customer_order_times")
    )
    c = per_customer.c
    up_to = [c.purchases - c[f"later_{j}"] for j in range(count - 1)] + [c.purchases]
    derived = (
        sa.select(
            c.customer_id,
            t.ordered_at.of(c.first_at).bucket(boundaries).label("first_order_at"),
            t.ordered_at.of(c.first_purchase_raw).bucket(boundaries).label("first_purchase_at"),
            sa.case(*((n >= 2, j) for j, n in enumerate(up_to))).label("second_purchase_at"),
        )
        .select_from(per_customer)
        .subquery("customer_orders")
    )
    return derived, {name: derived.c[name] for name in ("customer_id", *CUSTOMER_ORDER_TIMES)}


def _customer_buckets_in_one_sort(source, raw, t, boundaries):
    """``customer_orders`` in bucket space for at most three buckets, where GROUP BY sorts: one GROUP
    BY customer over the valid orders before the last boundary, with the first bucket, the purchases
    of bucket 0 and those of buckets 1 and 2 packed in one sum (bucket 1 counts 1, bucket 2 counts
    ``PACKED``: exact below 2^31 purchases of one customer in one bucket). The purchases up to each
    bucket give the first and second purchase. 1 M shuffled orders on SQLite: 0.78-0.85 s of CPU
    against 1.0 s for the two sorts (docs/performance.md, finding 17)."""
    import sqlalchemy as sa

    count = len(boundaries)
    r = _customer_order_rows(source, raw, t, boundaries).c
    purchase = r.amount > 0
    packed = sa.case((r.bucket == 1, 1), else_=sa.literal(PACKED, sa.BigInteger))
    per_customer = (
        sa.select(
            r.customer_id,
            sa.func.min(r.bucket).label("first_order_at"),
            sa.func.count(sa.case((sa.and_(purchase, r.bucket == 0), 1))).label("history"),
            sa.func.sum(sa.case((sa.and_(purchase, r.bucket > 0), packed))).label("recent"),
        )
        .where(r.amount.is_not(None), r.bucket.is_not(None), r.bucket < count)
        .group_by(r.customer_id)
        .subquery("customer_order_counts")
    )
    c = per_customer.c
    recent = sa.func.coalesce(c.recent, 0)
    in_one = recent % sa.literal(PACKED, sa.BigInteger)
    in_two = (recent - in_one) / sa.literal(PACKED, sa.BigInteger)
    up_to = [c.history, c.history + in_one, c.history + in_one + in_two][:count]
    derived = source.once_per_row(
        sa.select(
            c.customer_id,
            c.first_order_at,
            sa.case(*((n >= 1, j) for j, n in enumerate(up_to))).label("first_purchase_at"),
            sa.case(*((n >= 2, j) for j, n in enumerate(up_to))).label("second_purchase_at"),
        ).select_from(per_customer),
        "customer_orders",
    )
    return derived, {name: derived.c[name] for name in ("customer_id", *CUSTOMER_ORDER_TIMES)}


def _customer_buckets_by_running_count(source, per_bucket, count: int):
    """``customer_orders`` in bucket space through a running sum of purchases over each customer's
    buckets (a second sort): for trends longer than an integer's bits."""
    import sqlalchemy as sa

    b = per_bucket.c
    running = (
        sa.select(
            b.customer_id,
            b.bucket,
            sa.func.sum(b.purchases)
            .over(partition_by=b.customer_id, order_by=b.bucket, rows=(None, 0))
            .label("purchases_so_far"),
        )
        .where(b.bucket.is_not(None), b.bucket < count)
        .subquery("customer_order_running")
    )
    r = running.c
    per_customer = (
        sa.select(
            r.customer_id,
            sa.func.min(r.bucket).label("first_order_at"),
            sa.func.min(sa.case((r.purchases_so_far >= 1, r.bucket))).label("first_purchase_at"),
            sa.func.min(sa.case((r.purchases_so_far >= 2, r.bucket))).label("second_purchase_at"),
        )
        .group_by(r.customer_id)
        .subquery("customer_orders")
    )
    return per_customer, {name: per_customer.c[name] for name in ("customer_id", *CUSTOMER_ORDER_TIMES)}


CUSTOMER_ORDERS = Entity(
    "customer_orders",
    (Column("customer_id", "id"), *(Column(name, "timestamp") for name in CUSTOMER_ORDER_TIMES)),
    "Derived from orders: per customer, when their first order, first and second purchase happened.",
    derive=derive_customer_orders,
    derive_buckets=derive_customer_orders_in_buckets,
)

# Measures shared by several metrics: the engine computes each once.
REVENUE = Measure.sum("amount", entity="orders", time="ordered_at")
ORDERS_WITH_AMOUNT = Measure.count(where=lambda t: t.amount.is_not(None), entity="orders", time="ordered_at")
NO_AMOUNT = Measure.count(
    where=lambda t: t.amount.is_(None),
    entity="orders",
    time="ordered_at",
    warn="orders with no amount or an amount that is not a number (kpi check --data shows examples)",
)
NO_ORDER_TIME = Measure.missing_time("orders with no ordered_at", entity="orders", time="ordered_at")
LIFETIME = {"entity": "orders", "time": "ordered_at", "window": "before_end"}
LIFETIME_NO_AMOUNT = Measure.count(
    where=lambda t: t.amount.is_(None),
    warn="orders with no amount or an amount that is not a number (kpi check --data shows examples)",
    **LIFETIME,
)
LIFETIME_NO_CUSTOMER = Measure.count(
    where=lambda t: t.amount.is_not(None) & t.customer_id.is_(None),
    warn="orders with no customer (not attributable to a customer)",
    **LIFETIME,
)


def gross_margin(config) -> float:
    """``gross_margin`` of kpi.toml; 1.0 without a config."""
    margin = getattr(config, "gross_margin", None)
    return 1.0 if margin is None else float(margin)


class Revenue(Metric):
    name = "revenue"
    title = "Revenue"
    description = "Sum of order amounts with ordered_at in the period, refunds (negative amounts) included."
    unit = "currency"
    better = "higher"
    entity = "orders"
    time = "ordered_at"
    n = "orders"
    rules = (
        "Refunds count in the period they happen; guest orders (no customer) count.",
        "An order with no amount or no ordered_at is left out and warned.",
    )
    measures: ClassVar[dict[str, Measure]] = {
        "revenue": REVENUE,
        "orders": ORDERS_WITH_AMOUNT,
        "invalid": NO_AMOUNT,
        "no_time": NO_ORDER_TIME,
    }

    def value(self, m):
        return m.revenue

    def variance(self, m):
        """A sum over a random number of orders (a compound Poisson sum): its orders' sum of squares."""
        return m.squares_of("revenue")


class AverageOrderValue(Metric):
    name = "aov"
    title = "Average order value"
    description = "Sum of order amounts > 0 with ordered_at in the period / the number of those orders."
    unit = "currency"
    better = "higher"
    entity = "orders"
    time = "ordered_at"
    n = "purchases"
    n_noun = "orders"
    rules = (
        "Refunds (negative amounts) and zero amounts are not orders here: in neither sum nor count.",
        "An order with no amount or no ordered_at is left out and warned.",
    )
    measures: ClassVar[dict[str, Measure]] = {
        "sales": Measure.sum("amount", where=lambda t: t.amount > 0),
        "purchases": Measure.count(where=lambda t: t.amount > 0),
        "invalid": NO_AMOUNT,
        "no_time": NO_ORDER_TIME,
    }

    def value(self, m):
        return ratio(m.sales, m.purchases)

    def variance(self, m):
        """A mean of the orders' amounts: their sample variance over the number of orders."""
        return mean_variance(m.sales, m.squares_of("sales"), m.purchases)


class CustomerLifetimeValue(Metric):
    name = "clv"
    title = "Customer lifetime value (historical)"
    description = (
        "Sum of all order amounts before the period's end / customers with at least one order before it, "
        "times gross_margin."
    )
    unit = "currency"
    better = "higher"
    n = "customers"
    rules = (
        "Lifetime: every order with ordered_at < end counts, refunds included, whatever the period's start.",
        "gross_margin comes from kpi.toml (default 1.0).",
        "An order with no amount, no customer or no ordered_at is left out and warned.",
        "A customer whose orders are all refunds still counts (with a negative total).",
    )
    measures: ClassVar[dict[str, Measure]] = {
        "lifetime_revenue": Measure.sum("amount", where=lambda t: t.customer_id.is_not(None), **LIFETIME),
        "customers": Measure.count(entity="customer_orders", time="first_order_at", window="before_end"),
        "no_amount": LIFETIME_NO_AMOUNT,
        "no_customer": LIFETIME_NO_CUSTOMER,
        "no_time": NO_ORDER_TIME,
    }

    def value(self, m):
        average = ratio(m.lifetime_revenue, m.customers)
        return None if average is None else average * gross_margin(m.config)


class PredictiveCustomerLifetimeValue(Metric):
    name = "clv_predictive"
    title = "Customer lifetime value (predictive)"
    description = (
        "(Revenue in the period / customers active at its start) x gross_margin / (churn rate / 100); "
        "NULL when churn is 0."
    )
    unit = "currency"
    better = "higher"
    n = "starting"
    rules = (
        (
            "Revenue per starting customer over the period, divided by the period's churn rate: "
            "a customer stays 1/churn periods on average."
        ),
        "Revenue is the revenue metric's (all orders in the period, refunds and guest orders included).",
        "No churn in the period (or no customers at its start) gives NULL, never infinity.",
        "Invalid customers and orders are left out and warned, as for churn_rate and revenue.",
    )
    measures: ClassVar[dict[str, Measure]] = {
        "revenue": REVENUE,
        "starting": STARTING_CUSTOMERS,
        "churned": CHURNED_CUSTOMERS,
        "invalid_customers": INVALID_CUSTOMERS,
        "no_amount": NO_AMOUNT,
        "no_time": NO_ORDER_TIME,
    }

    def value(self, m):
        revenue_per_customer = ratio(m.revenue, m.starting)
        churn = ratio(m.churned, m.starting)
        if revenue_per_customer is None or not churn:
            return None
        return revenue_per_customer * gross_margin(m.config) / churn


class RepeatPurchaseRate(Metric):
    name = "repeat_purchase_rate"
    title = "Repeat purchase rate"
    description = "100 x customers with 2 or more orders of amount > 0 before the period's end / customers with 1 or more."
    unit = "percent"
    better = "higher"
    entity = "customer_orders"
    n = "purchasers"
    n_noun = "customers"
    rules = (
        "Lifetime: every order with ordered_at < end counts, whatever the period's start.",
        "Refunds and zero amounts are not purchases (a refunded purchase still counts as one).",
        "An order with no amount, no customer or no ordered_at is left out and warned.",
    )
    measures: ClassVar[dict[str, Measure]] = {
        "repeaters": Measure.count(time="second_purchase_at", window="before_end"),
        "purchasers": Measure.count(time="first_purchase_at", window="before_end"),
        "no_amount": LIFETIME_NO_AMOUNT,
        "no_customer": LIFETIME_NO_CUSTOMER,
        "no_time": NO_ORDER_TIME,
    }

    def value(self, m):
        return percent(m.repeaters, m.purchasers)


@hookimpl
def register_entities(register):
    register(CUSTOMER_ORDERS)


@hookimpl(trylast=True)
def register_metrics(register):
    register(Revenue())
    register(AverageOrderValue())
    register(CustomerLifetimeValue())
    register(PredictiveCustomerLifetimeValue())
    register(RepeatPurchaseRate())
