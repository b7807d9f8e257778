"""The two computations kpicore is measured against, for every stock metric of DESIGN section 6.

Both return ``{metric: [value per window]}`` for consecutive windows (oldest first), plus the number of
rows they moved from the database into Python.

* ``sql_floor``: hand-written SQL, one query per table, each table read once. Every time column is
  mapped to a *bucket* (0 = before the first window, w + 1 = inside window w, 13 = after) by a CASE chain
  that stops at the first match, and each query groups by bucket. Cumulative measures ("before end": clv,
  repeat purchase, churn's starting set S) are sums of buckets, added up over a handful of rows in Python.
  The per-customer part of clv and repeat purchase is one GROUP BY (customer, bucket) with window
  functions over it, in the same scan of orders.
* ``sql_floor(..., plain=True)``: the same for the value and previous of a digest (no trend), as a careful
  engineer writes it: the lifetime metrics from one pass over orders grouped by customer alone, each
  window's end a conditional count or sum per customer, and the orders in the windows read through the
  time index on their own.
* ``pandas_baseline``: what a small team writes by hand: load the tables, one boolean mask per window.

Both compute only the metrics asked for (by default all fifteen), reading only the tables those need,
so that they do the same work as kpicore with whatever metrics it has registered.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime

STOCK_METRICS = (
    "nps",
    "csat",
    "cac",
    "churn_rate",
    "retention_rate",
    "new_customers",
    "active_customers",
    "revenue",
    "aov",
    "clv",
    "clv_predictive",
    "repeat_purchase_rate",
    "conversion_rate",
    "fcr",
    "escalation_rate",
)


#: The tables each metric reads (the baselines only read what the compared metrics need).
TABLES = {
    "nps": ("survey_responses",),
    "csat": ("survey_responses",),
    "cac": ("marketing_spend", "customers"),
    "churn_rate": ("customers",),
    "retention_rate": ("customers",),
    "new_customers": ("customers",),
    "active_customers": ("customers",),
    "revenue": ("orders",),
    "aov": ("orders",),
    "clv": ("orders",),
    "clv_predictive": ("orders", "customers"),
    "repeat_purchase_rate": ("orders",),
    "conversion_rate": ("leads",),
    "fcr": ("tickets",),
    "escalation_rate": ("tickets",),
}
#: Metrics that need the per-customer aggregation of orders.
PER_CUSTOMER = ("clv", "repeat_purchase_rate")
TABLES_READ = ("customers", "orders", "survey_responses", "tickets", "leads", "marketing_spend")


def tables_for(metrics) -> set[str]:
    """The tables the given stock metrics read."""
    return {table for metric in metrics for table in TABLES[metric]}


def ratio(numerator, denominator):
    """numerator / denominator, None for a zero or missing denominator (DESIGN 6)."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def percent(numerator, denominator):
    share = ratio(numerator, denominator)
    return None if share is None else 100.0 * share


# -- SQL floor ----------------------------------------------------------------------------------------
class Dialect:
    """How one database spells time literals and booleans."""

    def __init__(self, name: str):
        self.name = name

    def instant(self, moment: datetime) -> str:
        text = moment.strftime("%Y-%m-%d %H:%M:%S")
        if self.name in ("sqlite", "mysql"):  # MySQL: TIMESTAMP columns read in a UTC session
            return f"'{text}'"
        if self.name == "spark":
            return f"TIMESTAMP '{text}+00:00'"
        return f"TIMESTAMPTZ '{text}+00'"

    def day(self, moment: datetime) -> str:
        text = moment.strftime("%Y-%m-%d")
        return f"'{text}'" if self.name == "sqlite" else f"DATE '{text}'"

    def truthy(self, column: str) -> str:
        return f"{column} = 1" if self.name in ("sqlite", "mysql") else column

    def unindexed(self, column: str) -> str:
        """The column in a WHERE that should scan rather than use its index: the lifetime read of orders
        is nearly the whole table, which SQLite's planner reads through the time index (one random
        table lookup per row when orders are not stored in time order: the floor's orders query took
        53 s of CPU instead of 23 s on 10 M shuffled orders); PostgreSQL's planner weighs that itself."""
        return f"+{column}" if self.name == "sqlite" else column

    def orders_scanned(self) -> str:
        """``orders`` in the FROM of a query grouping every order by customer: scanned, not read through
        the customer_id index. SQLite and PostgreSQL stay off it for ``+customer_id``; MySQL and MariaDB
        ignore the unary plus and, at 10 M orders, read the table in index order, one lookup of the
        clustered key per order (the lifetime query had run 12 minutes when it was stopped), so a careful
        engineer names the index to ignore (the tidy layout, the only one written to MySQL, has it)."""
        return "orders IGNORE INDEX (ix_orders_customer_id)" if self.name == "mysql" else "orders"

    def integer(self, column: str) -> str:
        return f"CAST({column} AS SIGNED)" if self.name == "mysql" else f"CAST({column} AS INTEGER)"


def _bucket(column: str, bounds: Sequence[str]) -> str:
    """-1 for NULL, 0 before bounds[0], k for bounds[k-1] <= column < bounds[k], len(bounds) after."""
    whens = " ".join(f"WHEN {column} < {bound} THEN {k}" for k, bound in enumerate(bounds))
    return f"CASE WHEN {column} IS NULL THEN -1 {whens} ELSE {len(bounds)} END"


def lifetime_per_customer(windows: Sequence[tuple[datetime, datetime]], dialect: Dialect) -> str:
    """The plain case's lifetime query: one GROUP BY customer over the orders before the last end, with
    each window's orders count, amount and purchases (amount > 0) before its end per customer, then
    the buyers, amounts and first and second purchasers summed over customers (columns ``*_k`` for
    window k)."""
    ends = [dialect.instant(end) for _, end in windows]
    per_customer, totals = [], []
    for k, end in enumerate(ends):
        before = f"ordered_at < {end}"
        per_customer.append(
            f"COUNT(CASE WHEN {before} THEN 1 END) AS orders_{k}, "
            f"SUM(CASE WHEN {before} THEN amount END) AS amount_{k}, "
            f"COUNT(CASE WHEN {before} AND amount > 0 THEN 1 END) AS purchases_{k}"
        )
        totals.append(
            f"COUNT(CASE WHEN orders_{k} > 0 THEN 1 END) AS buyers_{k}, SUM(amount_{k}) AS amount_{k}, "
            f"COUNT(CASE WHEN purchases_{k} >= 1 THEN 1 END) AS first_positive_{k}, "
            f"COUNT(CASE WHEN purchases_{k} >= 2 THEN 1 END) AS second_positive_{k}"
        )
    # "+customer_id": as in the trend floor, keeps both planners from reading orders through its index.
    return f"""
            SELECT {", ".join(totals)}
            FROM (SELECT +customer_id AS customer_id, {", ".join(per_customer)}
                  FROM {dialect.orders_scanned()}
                  WHERE customer_id IS NOT NULL AND {dialect.unindexed("ordered_at")} < {ends[-1]}
                  GROUP BY 1) per_customer"""


def floor_queries(
    windows: Sequence[tuple[datetime, datetime]],
    dialect: Dialect,
    metrics: Sequence[str] = STOCK_METRICS,
    plain: bool = False,
) -> dict[str, str]:
    """The hand-written SQL for ``metrics``, one statement per table (windows must be consecutive);
    ``plain``: the lifetime metrics from one GROUP BY customer (``lifetime_per_customer``) apart."""
    starts = [start for start, _ in windows]
    bounds = [dialect.instant(starts[0])] + [dialect.instant(end) for _, end in windows]
    day_bounds = [dialect.day(starts[0])] + [dialect.day(end) for _, end in windows]
    first, last = bounds[0], bounds[-1]

    def valid_score(low: int, high: int) -> str:
        return f"score IS NOT NULL AND score = {dialect.integer('score')} AND score BETWEEN {low} AND {high}"

    nps, csat = valid_score(0, 10), valid_score(1, 5)
    orders_in_windows = f"""
            SELECT {_bucket("ordered_at", bounds)} AS bucket, SUM(amount) AS amount, COUNT(amount) AS orders,
                   SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END) AS positive_amount,
                   COUNT(CASE WHEN amount > 0 THEN 1 END) AS positive_orders,
                   0 AS customer_amount, 0 AS first_buyers, 0 AS first_positive, 0 AS second_positive
            FROM orders WHERE ordered_at >= {first} AND ordered_at < {last}
            GROUP BY 1"""
    queries = {
        "customers": f"""
            SELECT {_bucket("signup_at", bounds)} AS signup_bucket, {_bucket("churned_at", bounds)} AS churn_bucket,
                   COUNT(*) AS customers
            FROM customers
            WHERE signup_at IS NOT NULL AND (churned_at IS NULL OR churned_at >= signup_at)
            GROUP BY 1, 2""",
        "orders": f"""
            WITH per_customer_bucket AS (
                -- "+customer_id": grouping by the bare column, both planners read orders through the
                -- customer_id index (pre-sorted groups) and fetch all 10 M rows in random order, 4x
                -- slower than a sequential scan and a sort; the unary plus is the usual hint against it.
                SELECT +customer_id AS customer_id, {_bucket("ordered_at", bounds)} AS bucket,
                       SUM(amount) AS amount, COUNT(amount) AS orders,
                       SUM(CASE WHEN amount > 0 THEN amount ELSE 0 END) AS positive_amount,
                       COUNT(CASE WHEN amount > 0 THEN 1 END) AS positive_orders
                FROM {dialect.orders_scanned()} WHERE {dialect.unindexed("ordered_at")} < {last}
                GROUP BY 1, 2
            ), running AS (
                SELECT *,
                       SUM(positive_orders) OVER (PARTITION BY customer_id ORDER BY bucket
                                                  ROWS UNBOUNDED PRECEDING) AS positive_so_far,
                       MIN(bucket) OVER (PARTITION BY customer_id) AS first_bucket
                FROM per_customer_bucket
            )
            SELECT bucket, SUM(amount) AS amount, SUM(orders) AS orders,
                   SUM(positive_amount) AS positive_amount, SUM(positive_orders) AS positive_orders,
                   SUM(CASE WHEN customer_id IS NOT NULL THEN amount ELSE 0 END) AS customer_amount,
                   COUNT(CASE WHEN customer_id IS NOT NULL AND bucket = first_bucket THEN 1 END) AS first_buyers,
                   COUNT(CASE WHEN customer_id IS NOT NULL AND positive_so_far >= 1
                              AND positive_so_far - positive_orders < 1 THEN 1 END) AS first_positive,
                   COUNT(CASE WHEN customer_id IS NOT NULL AND positive_so_far >= 2
                              AND positive_so_far - positive_orders < 2 THEN 1 END) AS second_positive
            FROM running GROUP BY bucket""",
        "survey_responses": f"""
            SELECT {_bucket("responded_at", bounds)} AS bucket,
                   COUNT(CASE WHEN survey = 'nps' AND {nps} AND score >= 9 THEN 1 END) AS promoters,
                   COUNT(CASE WHEN survey = 'nps' AND {nps} AND score <= 6 THEN 1 END) AS detractors,
                   COUNT(CASE WHEN survey = 'nps' AND {nps} THEN 1 END) AS nps_responses,
                   COUNT(CASE WHEN survey = 'csat' AND {csat} AND score >= 4 THEN 1 END) AS satisfied,
                   COUNT(CASE WHEN survey = 'csat' AND {csat} THEN 1 END) AS csat_responses
            FROM survey_responses
            WHERE responded_at >= {first} AND responded_at < {last}
            GROUP BY 1""",
        "tickets": f"""
            SELECT {_bucket("resolved_at", bounds)} AS resolved_bucket, {_bucket("opened_at", bounds)} AS opened_bucket,
                   COUNT(CASE WHEN contacts = 1 THEN 1 END) AS first_contact,
                   COUNT(CASE WHEN contacts >= 1 THEN 1 END) AS valid_contacts,
                   COUNT(*) AS tickets,
                   COUNT(CASE WHEN {dialect.truthy("escalated")} THEN 1 END) AS escalated
            FROM tickets
            WHERE (resolved_at >= {first} AND resolved_at < {last}) OR (opened_at >= {first} AND opened_at < {last})
            GROUP BY 1, 2""",
        "leads": f"""
            SELECT {_bucket("created_at", bounds)} AS bucket, COUNT(*) AS leads, COUNT(converted_at) AS converted
            FROM leads WHERE created_at >= {first} AND created_at < {last}
            GROUP BY 1""",
        "marketing_spend": f"""
            SELECT {_bucket("spent_on", day_bounds)} AS bucket, SUM(amount) AS spend
            FROM marketing_spend WHERE spent_on >= {day_bounds[0]} AND spent_on < {day_bounds[-1]}
            GROUP BY 1""",
    }
    needed = tables_for(metrics)
    if plain and set(PER_CUSTOMER) & set(metrics):
        queries["lifetime"] = lifetime_per_customer(windows, dialect)
        needed.add("lifetime")
    if plain or not set(PER_CUSTOMER) & set(metrics):
        queries["orders"] = orders_in_windows
    return {table: sql for table, sql in queries.items() if table in needed}


def sql_floor(
    run: Callable[[str], list[dict]],
    windows: Sequence[tuple[datetime, datetime]],
    dialect: Dialect,
    gross_margin: float = 1.0,
    metrics: Sequence[str] = STOCK_METRICS,
    plain: bool = False,
) -> tuple[dict[str, list], int]:
    """``metrics`` per window from the floor queries; ``run(sql)`` returns rows as dicts."""
    queries = floor_queries(windows, dialect, metrics, plain)
    rows = {table: run(queries[table]) if table in queries else [] for table in (*TABLES_READ, "lifetime")}
    lifetime = rows["lifetime"][0] if rows["lifetime"] else None
    fetched = sum(len(r) for r in rows.values())
    count = len(windows)
    # bucket k + 1 is window k; "before the end of window k" is buckets 0 .. k + 1.
    by_bucket: dict[str, dict[int, dict]] = {}
    for table in ("orders", "survey_responses", "leads", "marketing_spend"):
        by_bucket[table] = {int(row["bucket"]): row for row in rows[table]}

    def in_window(table: str, column: str, k: int) -> float:
        row = by_bucket[table].get(k + 1)
        return float(row[column] or 0) if row else 0.0

    def before_end(table: str, column: str, k: int) -> float:
        return sum(float(row[column] or 0) for b, row in by_bucket[table].items() if 0 <= b <= k + 1)

    customer_pairs = [
        (int(r["signup_bucket"]), int(r["churn_bucket"]), int(r["customers"])) for r in rows["customers"]
    ]
    tickets_resolved: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    tickets_opened: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in rows["tickets"]:
        resolved = tickets_resolved[int(row["resolved_bucket"])]
        resolved[0] += float(row["first_contact"])
        resolved[1] += float(row["valid_contacts"])
        opened = tickets_opened[int(row["opened_bucket"])]
        opened[0] += float(row["escalated"])
        opened[1] += float(row["tickets"])

    values: dict[str, list] = {name: [] for name in STOCK_METRICS}
    for k in range(count):
        here, after = k + 1, k + 2  # bucket of window k; first bucket past its end

        def not_churned_by(bucket: int, churn: int) -> bool:
            return churn == -1 or churn >= bucket

        starting = sum(n for s, c, n in customer_pairs if 0 <= s <= k and not_churned_by(here, c))
        churned = sum(n for s, c, n in customer_pairs if 0 <= s <= k and c == here)
        retained = sum(n for s, c, n in customer_pairs if 0 <= s <= k and not_churned_by(after, c))
        new = sum(n for s, c, n in customer_pairs if s == here)
        active = sum(n for s, c, n in customer_pairs if 0 <= s <= here and not_churned_by(after, c))
        revenue = in_window("orders", "amount", k)
        churn_rate = percent(churned, starting)
        values["new_customers"].append(new)
        values["churn_rate"].append(churn_rate)
        values["retention_rate"].append(percent(retained, starting))
        values["active_customers"].append(active)
        values["revenue"].append(revenue)
        values["aov"].append(
            ratio(in_window("orders", "positive_amount", k), in_window("orders", "positive_orders", k))
        )
        amount, buyers, first_positive, second_positive = _lifetime(lifetime, before_end, k)
        values["clv"].append(_times(ratio(amount, buyers), gross_margin))
        values["repeat_purchase_rate"].append(percent(second_positive, first_positive))
        values["clv_predictive"].append(_clv_predictive(revenue, starting, churn_rate, gross_margin))
        values["cac"].append(ratio(in_window("marketing_spend", "spend", k), new))
        values["nps"].append(
            percent(
                in_window("survey_responses", "promoters", k)
                - in_window("survey_responses", "detractors", k),
                in_window("survey_responses", "nps_responses", k),
            )
        )
        values["csat"].append(
            percent(
                in_window("survey_responses", "satisfied", k),
                in_window("survey_responses", "csat_responses", k),
            )
        )
        values["conversion_rate"].append(
            percent(in_window("leads", "converted", k), in_window("leads", "leads", k))
        )
        values["fcr"].append(percent(*tickets_resolved[here]))
        values["escalation_rate"].append(percent(*tickets_opened[here]))
    return {metric: values[metric] for metric in metrics}, fetched


def _lifetime(lifetime: dict | None, before_end, k: int) -> tuple:
    """Window k's lifetime amount, buyers, first and second purchasers: from the plain case's
    per-customer row when there is one, else summed over the trend query's buckets."""
    if lifetime is not None:
        names = ("amount", "buyers", "first_positive", "second_positive")
        amount, *counts = (lifetime[f"{name}_{k}"] for name in names)
        return (float(amount or 0), *counts)
    names = ("customer_amount", "first_buyers", "first_positive", "second_positive")
    return tuple(before_end("orders", name, k) for name in names)


def _times(value, factor):
    return None if value is None else value * factor


def _clv_predictive(revenue, starting, churn_rate, gross_margin):
    """(revenue in P / count(S)) x gross_margin / (churn_rate / 100); NULL when churn is 0 or unknown."""
    per_customer = ratio(revenue, starting)
    if per_customer is None or not churn_rate:
        return None
    return per_customer * gross_margin / (churn_rate / 100)


# -- pandas -------------------------------------------------------------------------------------------
def pandas_baseline(
    tables: dict,
    windows: Sequence[tuple[datetime, datetime]],
    gross_margin: float = 1.0,
    metrics: Sequence[str] = STOCK_METRICS,
) -> dict[str, list]:
    """``metrics`` per window from DataFrames (only the tables they need; time columns naive UTC)."""
    import numpy as np
    import pandas as pd

    wanted = set(metrics)
    values: dict[str, list] = {name: [] for name in STOCK_METRICS}
    naive_windows = [(_naive(start), _naive(end)) for start, end in windows]

    def inside(series, start, end):
        return (series >= start) & (series < end)

    if "customers" in tables:
        customers = tables["customers"]
        valid = customers["signup_at"].notna() & (
            customers["churned_at"].isna() | (customers["churned_at"] >= customers["signup_at"])
        )
        signup, churned = customers.loc[valid, "signup_at"], customers.loc[valid, "churned_at"]
        for start, end in naive_windows:
            starting_mask = (signup < start) & (churned.isna() | (churned >= start))
            starting = int(starting_mask.sum())
            values["starting"] = [*values.get("starting", []), starting]
            values["churn_rate"].append(percent(int((starting_mask & (churned < end)).sum()), starting))
            values["retention_rate"].append(
                percent(int((starting_mask & (churned.isna() | (churned >= end))).sum()), starting)
            )
            values["new_customers"].append(int(inside(signup, start, end).sum()))
            values["active_customers"].append(
                int(((signup < end) & (churned.isna() | (churned >= end))).sum())
            )
    if "orders" in tables:
        orders = tables["orders"]
        for start, end in naive_windows:
            in_period = orders.loc[inside(orders["ordered_at"], start, end), "amount"]
            positives = in_period[in_period > 0]
            values["revenue"].append(float(in_period.sum()))
            values["aov"].append(ratio(float(positives.sum()), len(positives)))
        if wanted & set(PER_CUSTOMER):
            known = orders[orders["customer_id"].notna()]
            first_order = known.groupby("customer_id")["ordered_at"].min()
            positive = known[known["amount"] > 0].sort_values(["customer_id", "ordered_at"], kind="stable")
            first_positive = positive.groupby("customer_id")["ordered_at"].nth(0)
            second_positive = positive.groupby("customer_id")["ordered_at"].nth(1)
            for _, end in naive_windows:
                buyers = int((first_order < end).sum())
                spent = float(known.loc[known["ordered_at"] < end, "amount"].sum())
                values["clv"].append(_times(ratio(spent, buyers), gross_margin))
                values["repeat_purchase_rate"].append(
                    percent(int((second_positive < end).sum()), int((first_positive < end).sum()))
                )
    if "customers" in tables and "orders" in tables:
        for k in range(len(windows)):
            values["clv_predictive"].append(
                _clv_predictive(
                    values["revenue"][k], values["starting"][k], values["churn_rate"][k], gross_margin
                )
            )
    if "marketing_spend" in tables and "customers" in tables:
        spend = tables["marketing_spend"]
        spent_on = pd.to_datetime(spend["spent_on"])
        for k, (start, end) in enumerate(naive_windows):
            spent = float(spend.loc[inside(spent_on, start, end), "amount"].sum())
            values["cac"].append(ratio(spent, values["new_customers"][k]))
    if "survey_responses" in tables:
        surveys = tables["survey_responses"]
        score = surveys["score"]
        valid_score = score.notna() & (score == np.floor(score))
        nps = surveys[(surveys["survey"] == "nps") & valid_score & score.between(0, 10)]
        csat = surveys[(surveys["survey"] == "csat") & valid_score & score.between(1, 5)]
        for start, end in naive_windows:
            nps_here = nps.loc[inside(nps["responded_at"], start, end), "score"]
            values["nps"].append(
                percent(int((nps_here >= 9).sum()) - int((nps_here <= 6).sum()), len(nps_here))
            )
            csat_here = csat.loc[inside(csat["responded_at"], start, end), "score"]
            values["csat"].append(percent(int((csat_here >= 4).sum()), len(csat_here)))
    if "leads" in tables:
        leads = tables["leads"]
        for start, end in naive_windows:
            converted = leads.loc[inside(leads["created_at"], start, end), "converted_at"]
            values["conversion_rate"].append(percent(int(converted.notna().sum()), len(converted)))
    if "tickets" in tables:
        tickets = tables["tickets"]
        escalated = tickets["escalated"].astype(bool)
        for start, end in naive_windows:
            contacts = tickets.loc[inside(tickets["resolved_at"], start, end), "contacts"]
            values["fcr"].append(percent(int((contacts == 1).sum()), int((contacts >= 1).sum())))
            opened = inside(tickets["opened_at"], start, end)
            values["escalation_rate"].append(percent(int((escalated & opened).sum()), int(opened.sum())))
    return {metric: values[metric] for metric in metrics}


def _naive(moment: datetime):
    import pandas as pd

    return pd.Timestamp(moment).tz_convert("UTC").tz_localize(None)


def agree(left, right, rel_tol: float = 1e-6) -> bool:
    """Two metric values are the same number (or both missing)."""
    if left is None or right is None:
        return left is None and right is None
    return math.isclose(float(left), float(right), rel_tol=rel_tol, abs_tol=1e-9)
