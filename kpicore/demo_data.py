"""Seeded synthetic data for `kpi demo`: two years of a small business, ending yesterday.

The database holds every canonical entity with realistic shape: signups that grow and
follow weekly and yearly rhythms, churn of a few percent a month, orders only while a customer is active,
refunds and guest orders, paid marketing spend, leads with late conversions, NPS and CSAT surveys and
support tickets. It is deliberately untidy in the ways real sources are: a few percent of order
timestamps use other text forms SQLite accepts, and a handful of survey scores and ticket contact counts are
invalid so that metrics have something to warn about. And its last week holds one planted event for the
insights to find: a churn surge in the South region.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

from kpicore.errors import KpiError

DEMO_MARKER_TABLE = "_kpicore_demo"
GENERATOR = "kpicore.demo_data/1"

_SECONDS_PER_DAY = 86_400
_DAYS_PER_MONTH = 30.4375
_SQLITE_HEADER = b"SQLite format 3\x00"

_CHANNELS = ("organic", "paid_search", "social", "referral", "email")
_CHANNEL_WEIGHTS = (30, 25, 20, 15, 10)
_DAILY_SPEND_BY_PAID_CHANNEL = {"paid_search": 220.0, "social": 140.0, "email": 35.0}
_REGIONS = ("North", "South", "East", "West", None)
_REGION_WEIGHTS = (30, 25, 20, 24.5, 0.5)
_PLANS = ("basic", "pro", "business")
_PLAN_WEIGHTS = (55, 32, 13)
_MONTHLY_CHURN_BY_PLAN = {"basic": 0.032, "pro": 0.022, "business": 0.014}
_BASKET_BY_PLAN = {"basic": 38.0, "pro": 72.0, "business": 160.0}
_GUEST_BASKET = 45.0
_NPS_MEAN_BY_REGION = {"North": 8.5, "South": 7.0, "East": 7.9, "West": 8.9, None: 8.0}

#: Relative activity per hour of the day (UTC), and per weekday, Monday first.
_HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 10, 9, 8, 8, 8, 8, 9, 10, 9, 7, 4, 2)
_WEEKDAY_FACTORS = (1.1, 1.1, 1.05, 1.05, 1.0, 0.8, 0.7)
#: The business grows by this factor over the two years.
_GROWTH = 2.5

_ORDERS_PER_CUSTOMER = 10
_REFUND_SHARE = 0.032
_GUEST_ORDER_SHARE = 0.01
_ALTERNATE_TIMESTAMP_SHARE = 0.03
_OFFSET_MINUTES = (60, 120, -300, 330)
_LEADS_PER_CUSTOMER = 2
_LEAD_CONVERSION_SHARE = 0.25
_NPS_RESPONSES_PER_CUSTOMER_DAY = 1 / 300
_ANONYMOUS_NPS_SHARE = 0.03
_CSAT_RESPONSE_SHARE = 0.45
_TICKETS_PER_CUSTOMER_DAY = 1 / 140
_GUEST_TICKET_SHARE = 0.02
_CONTACTS = (1, 2, 3, 4, 0, None)
_CONTACT_WEIGHTS = (72, 17, 6, 3, 1, 1)
#: (survey, invalid score) pairs planted in the responses, each a couple of times.
_INVALID_SCORES = (("nps", 11), ("nps", -1), ("nps", 7.5), ("nps", None), ("csat", 0), ("csat", None))

#: The stock entities as SQLite tables (timestamps as text): shared with benchmarks/generate.py.
SQLITE_SCHEMA = """
CREATE TABLE customers (
    customer_id INTEGER PRIMARY KEY, signup_at TEXT NOT NULL, churned_at TEXT,
    channel TEXT NOT NULL, region TEXT, plan TEXT NOT NULL);
CREATE TABLE orders (
    order_id INTEGER PRIMARY KEY, customer_id INTEGER, ordered_at TEXT NOT NULL, amount REAL NOT NULL);
CREATE TABLE marketing_spend (spent_on TEXT NOT NULL, channel TEXT NOT NULL, amount REAL NOT NULL);
CREATE TABLE leads (
    lead_id INTEGER PRIMARY KEY, created_at TEXT NOT NULL, converted_at TEXT, channel TEXT NOT NULL);
CREATE TABLE survey_responses (
    response_id INTEGER PRIMARY KEY, customer_id INTEGER, survey TEXT NOT NULL, score REAL,
    responded_at TEXT NOT NULL);
CREATE TABLE tickets (
    ticket_id INTEGER PRIMARY KEY, customer_id INTEGER, opened_at TEXT NOT NULL, resolved_at TEXT,
    contacts INTEGER, escalated INTEGER NOT NULL);
"""
_SCHEMA = (
    SQLITE_SCHEMA
    + f"""
CREATE TABLE {DEMO_MARKER_TABLE} (created_at TEXT NOT NULL, seed INTEGER NOT NULL, generator TEXT NOT NULL);
"""
)
#: Indexed columns: every time column, plus orders.customer_id.
INDEXED_COLUMNS = (
    ("customers", "signup_at"),
    ("customers", "churned_at"),
    ("orders", "ordered_at"),
    ("orders", "customer_id"),
    ("marketing_spend", "spent_on"),
    ("leads", "created_at"),
    ("leads", "converted_at"),
    ("survey_responses", "responded_at"),
    ("tickets", "opened_at"),
    ("tickets", "resolved_at"),
)


def generate_demo_database(
    path: str | os.PathLike[str],
    *,
    today: date | None = None,
    seed: int = 7,
    customers: int = 2400,
) -> dict[str, int]:
    """Write a realistic small-business dataset to a new SQLite file; return row counts per table.

    The data covers the two years before `today` (default: today in UTC), so its last timestamp is
    before `today` 00:00 UTC and last week is always complete. The same `seed` and `today` give the same
    rows. The file is written beside `path` and moved into place only when complete. An existing file at
    `path` is replaced only when it is itself a demo database; anything else raises `KpiError`.
    """
    if customers < 1:
        raise ValueError(f"customers must be at least 1, got {customers}")
    target = os.fspath(path)
    if os.path.exists(target) and not is_demo_database(target):
        raise KpiError(
            f"{target} already exists and is not a kpicore demo database; move it or choose another path"
        )
    timeline = _Timeline.ending_before(today or datetime.now(UTC).date())
    tables = _generate_tables(random.Random(seed), timeline, customers)
    partial = target + ".tmp"
    _remove_if_present(partial)
    try:
        _write_database(partial, tables, seed)
        os.replace(partial, target)
    except BaseException:
        _remove_if_present(partial)
        raise
    return {table: len(rows) for table, rows in tables.items()}


def is_demo_database(path: str | os.PathLike[str]) -> bool:
    """True when `path` is a SQLite database containing the demo marker table."""
    file = Path(path)
    try:
        with file.open("rb") as handle:
            if handle.read(len(_SQLITE_HEADER)) != _SQLITE_HEADER:
                return False
        connection = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)
    except (OSError, sqlite3.Error):
        return False
    try:
        found = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (DEMO_MARKER_TABLE,)
        ).fetchone()
    except sqlite3.Error:
        return False
    finally:
        connection.close()
    return found is not None


@dataclass(frozen=True)
class _Timeline:
    """The generated span as whole days from `origin` (00:00 UTC); instants are seconds from `origin`."""

    origin: datetime
    days: int
    #: Seasonal activity per day: growth x yearly x weekly, for anything that scales with the business.
    activity: tuple[float, ...]
    #: Weekly x yearly rhythm per day scaled to a maximum of 1, for thinning per-customer arrivals.
    rhythm: tuple[float, ...]
    last_week_start: int

    @classmethod
    def ending_before(cls, today: date) -> _Timeline:
        """The two calendar years of whole days before `today`."""
        try:
            first_day = today.replace(year=today.year - 2)
        except ValueError:  # 29 February
            first_day = today.replace(year=today.year - 2, day=28)
        days = (today - first_day).days
        seasonal = []
        activity = []
        for index in range(days):
            day = first_day + timedelta(days=index)
            yearly = 1 + 0.15 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 350) / 365.25)
            seasonal.append(yearly * _WEEKDAY_FACTORS[day.weekday()])
            activity.append(seasonal[-1] * _GROWTH ** (index / days))
        peak = max(seasonal)
        last_week_monday = today - timedelta(days=today.weekday() + 7)
        return cls(
            origin=datetime(first_day.year, first_day.month, first_day.day),
            days=days,
            activity=tuple(activity),
            rhythm=tuple(value / peak for value in seasonal),
            last_week_start=(last_week_monday - first_day).days * _SECONDS_PER_DAY,
        )

    @property
    def end(self) -> int:
        """The first instant after the data: `today` 00:00 UTC."""
        return self.days * _SECONDS_PER_DAY

    def moment(self, instant: int) -> datetime:
        """The naive UTC datetime of an instant."""
        return self.origin + timedelta(seconds=instant)

    def text(self, instant: int | None) -> str | None:
        """An instant as 'YYYY-MM-DD HH:MM:SS', or None."""
        return None if instant is None else self.moment(instant).isoformat(sep=" ")

    def date_text(self, day_index: int) -> str:
        """A day as 'YYYY-MM-DD'."""
        return (self.origin + timedelta(days=day_index)).date().isoformat()

    def random_instants(self, rng: random.Random, count: int) -> list[int]:
        """`count` instants spread over the span by seasonal activity and hour of day."""
        day_indexes = rng.choices(range(self.days), weights=self.activity, k=count)
        return [day * _SECONDS_PER_DAY + _time_of_day(rng) for day in day_indexes]

    def arrivals(self, rng: random.Random, start: int, stop: int, per_day: float) -> list[int]:
        """Instants of a Poisson process of `per_day` events in `[start, stop)`, following the rhythm.

        The process runs faster than asked and is thinned by the day's rhythm, so busy days get more
        events while the average rate stays `per_day`; each event keeps its day but takes a time of day
        from the hourly profile when that stays inside the window.
        """
        boosted_rate = per_day / (sum(self.rhythm) / self.days) / _SECONDS_PER_DAY
        instants: list[int] = []
        instant = float(start)
        while True:
            instant += rng.expovariate(boosted_rate)
            if instant >= stop:
                return instants
            day = int(instant // _SECONDS_PER_DAY)
            if rng.random() < self.rhythm[day]:
                retimed = day * _SECONDS_PER_DAY + _time_of_day(rng)
                instants.append(retimed if start <= retimed < stop else int(instant))


@dataclass(frozen=True)
class _Customer:
    customer_id: int
    signed_up: int
    churned: int | None
    channel: str
    region: str | None
    plan: str

    def active_until(self, timeline: _Timeline) -> int:
        """The end of the customer's active window: churn, or the end of the data."""
        return timeline.end if self.churned is None else self.churned


def _generate_tables(rng: random.Random, timeline: _Timeline, customer_count: int) -> dict[str, list[tuple]]:
    """Every entity's rows, in insertion order, with ids in time order."""
    customers = _customers(rng, timeline, customer_count)
    tickets = _tickets(rng, timeline, customers)
    tables = {
        "customers": [
            (c.customer_id, timeline.text(c.signed_up), timeline.text(c.churned), c.channel, c.region, c.plan)
            for c in customers
        ],
        "orders": _orders(rng, timeline, customers),
        "marketing_spend": _marketing_spend(rng, timeline),
        "leads": _leads(rng, timeline, customer_count),
        "survey_responses": _survey_responses(rng, timeline, customers, tickets),
        "tickets": [
            (ticket_id, customer_id, timeline.text(opened), timeline.text(resolved), contacts, escalated)
            for ticket_id, (opened, customer_id, resolved, contacts, escalated) in enumerate(tickets, 1)
        ],
    }
    # Its own random stream, drawn after everything else, so the rest of the data is as it was.
    _plant_churn_surge(random.Random(rng.getrandbits(32)), timeline, tables)
    return tables


#: The event planted in the last week, for insights and alerts to find: this share of the customers of
#: this region who are active when the week starts cancel during it (about ten times the usual rate).
_SURGE_REGION = "South"
_SURGE_SHARE = 0.06


def _plant_churn_surge(rng: random.Random, timeline: _Timeline, tables: dict[str, list[tuple]]) -> None:
    """A churn surge in one region during the last complete week: some of its active customers cancel
    then, and their later orders go with them."""
    week_start, week_end = timeline.last_week_start, timeline.last_week_start + 7 * _SECONDS_PER_DAY
    start_text = timeline.text(week_start)
    churned_at: dict[int, str | None] = {}
    customers = []
    for row in tables["customers"]:
        customer_id, signed_up, churned, _channel, region, _plan = row
        active = signed_up < start_text and (churned is None or churned >= timeline.text(week_end))
        if region == _SURGE_REGION and active and rng.random() < _SURGE_SHARE:
            churned = timeline.text(week_start + rng.randrange(7 * _SECONDS_PER_DAY))
            churned_at[customer_id] = churned
            row = (customer_id, signed_up, churned, *row[3:])
        customers.append(row)
    tables["customers"] = customers
    tables["orders"] = [
        order
        for order in tables["orders"]
        if order[1] not in churned_at or order[2].replace("T", " ")[:19] < churned_at[order[1]]
    ]


def _customers(rng: random.Random, timeline: _Timeline, count: int) -> list[_Customer]:
    """Customers in signup order; each churns after an exponential lifetime with its plan's hazard."""
    customers = []
    for customer_id, signed_up in enumerate(sorted(timeline.random_instants(rng, count)), 1):
        plan = rng.choices(_PLANS, weights=_PLAN_WEIGHTS)[0]
        daily_hazard = -math.log(1 - _MONTHLY_CHURN_BY_PLAN[plan]) / _DAYS_PER_MONTH
        churned = signed_up + 3600 + int(rng.expovariate(daily_hazard) * _SECONDS_PER_DAY)
        customers.append(
            _Customer(
                customer_id=customer_id,
                signed_up=signed_up,
                churned=churned if churned < timeline.end else None,
                channel=rng.choices(_CHANNELS, weights=_CHANNEL_WEIGHTS)[0],
                region=rng.choices(_REGIONS, weights=_REGION_WEIGHTS)[0],
                plan=plan,
            )
        )
    return customers


def _orders(rng: random.Random, timeline: _Timeline, customers: list[_Customer]) -> list[tuple]:
    """Orders while each customer is active, refunds of earlier orders, and a few guest orders.

    A customer's order rate is proportional to a personal propensity, scaled so that customers average
    `_ORDERS_PER_CUSTOMER` orders over their active lifetimes.
    """
    active_days = sum(c.active_until(timeline) - c.signed_up for c in customers) / _SECONDS_PER_DAY
    mean_rate = _ORDERS_PER_CUSTOMER * len(customers) / active_days
    orders: list[tuple[int, int | None, float]] = []
    for customer in customers:
        until = customer.active_until(timeline)
        propensity = rng.lognormvariate(-0.245, 0.7)  # mean 1
        for ordered in timeline.arrivals(rng, customer.signed_up, until, mean_rate * propensity):
            amount = _amount(rng, _BASKET_BY_PLAN[customer.plan])
            orders.append((ordered, customer.customer_id, amount))
            if rng.random() < _REFUND_SHARE:
                refunded = ordered + 3600 + int(rng.expovariate(1 / 4) * _SECONDS_PER_DAY)
                refund = amount if rng.random() < 0.7 else round(amount / 2, 2)
                if refunded < until:
                    orders.append((refunded, customer.customer_id, -refund))
    guest_count = round(len(orders) * _GUEST_ORDER_SHARE)
    orders.extend(
        (ordered, None, _amount(rng, _GUEST_BASKET)) for ordered in timeline.random_instants(rng, guest_count)
    )
    orders.sort(key=lambda order: order[0])
    return [
        (order_id, customer_id, _order_timestamp_text(rng, timeline, ordered), amount)
        for order_id, (ordered, customer_id, amount) in enumerate(orders, 1)
    ]


def _amount(rng: random.Random, basket: float) -> float:
    """A positive order amount around `basket`, in cents precision."""
    return max(1.0, round(basket * rng.lognormvariate(-0.1, 0.45), 2))


def _order_timestamp_text(rng: random.Random, timeline: _Timeline, instant: int) -> str:
    """Mostly 'YYYY-MM-DD HH:MM:SS'; a few percent 'T...Z', fractional seconds, or a UTC offset."""
    moment = timeline.moment(instant)
    if rng.random() >= _ALTERNATE_TIMESTAMP_SHARE:
        return moment.isoformat(sep=" ")
    form = rng.randrange(3)
    if form == 0:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if form == 1:
        return f"{moment.isoformat(sep=' ')}.{rng.randrange(1, 1000):03d}"
    offset = timedelta(minutes=rng.choice(_OFFSET_MINUTES))
    return (moment + offset).replace(tzinfo=timezone(offset)).isoformat()


def _marketing_spend(rng: random.Random, timeline: _Timeline) -> list[tuple]:
    """One row per day per paid channel, following the business's seasonal activity."""
    return [
        (
            timeline.date_text(day),
            channel,
            round(daily_spend * timeline.activity[day] * max(0.3, rng.gauss(1, 0.12)), 2),
        )
        for day in range(timeline.days)
        for channel, daily_spend in _DAILY_SPEND_BY_PAID_CHANNEL.items()
    ]


def _leads(rng: random.Random, timeline: _Timeline, customer_count: int) -> list[tuple]:
    """Leads with a quarter converting days later; conversions not yet due by the end stay NULL."""
    leads = []
    for lead_id, created in enumerate(
        sorted(timeline.random_instants(rng, _LEADS_PER_CUSTOMER * customer_count)), 1
    ):
        converted = None
        if rng.random() < _LEAD_CONVERSION_SHARE:
            candidate = created + 3600 + int(rng.expovariate(1 / 6) * _SECONDS_PER_DAY)
            converted = candidate if candidate < timeline.end else None
        channel = rng.choices(_CHANNELS, weights=_CHANNEL_WEIGHTS)[0]
        leads.append((lead_id, timeline.text(created), timeline.text(converted), channel))
    return leads


def _tickets(rng: random.Random, timeline: _Timeline, customers: list[_Customer]) -> list[tuple]:
    """Tickets as (opened, customer_id, resolved, contacts, escalated), in opening order.

    Most are resolved within a day or two, escalated ones take longer, and tickets whose resolution falls
    after the end of the data are still open.
    """
    openings: list[tuple[int, int | None]] = [
        (opened, customer.customer_id)
        for customer in customers
        for opened in timeline.arrivals(
            rng, customer.signed_up, customer.active_until(timeline), _TICKETS_PER_CUSTOMER_DAY
        )
    ]
    guest_count = round(len(openings) * _GUEST_TICKET_SHARE)
    openings.extend((opened, None) for opened in timeline.random_instants(rng, guest_count))
    openings.sort(key=lambda opening: opening[0])
    tickets = []
    for opened, customer_id in openings:
        contacts = rng.choices(_CONTACTS, weights=_CONTACT_WEIGHTS)[0]
        escalated = int(rng.random() < 0.05 + 0.06 * max(0, (contacts or 1) - 1))
        hours_to_resolve = rng.lognormvariate(math.log(18), 1.0) * (3 if escalated else 1)
        resolved = opened + 600 + int(hours_to_resolve * 3600)
        tickets.append(
            (opened, customer_id, resolved if resolved < timeline.end else None, contacts, escalated)
        )
    return tickets


def _survey_responses(
    rng: random.Random, timeline: _Timeline, customers: list[_Customer], tickets: list[tuple]
) -> list[tuple]:
    """NPS from active customers (and a few anonymous), CSAT after resolved tickets, some invalid scores."""
    responses: list[list] = []
    for customer in customers:
        for responded in timeline.arrivals(
            rng, customer.signed_up, customer.active_until(timeline), _NPS_RESPONSES_PER_CUSTOMER_DAY
        ):
            responses.append([responded, customer.customer_id, "nps", _nps_score(rng, customer.region)])
    anonymous_count = round(len(responses) * _ANONYMOUS_NPS_SHARE)
    for responded in timeline.random_instants(rng, anonymous_count):
        responses.append([responded, None, "nps", _nps_score(rng, None)])
    for _opened, customer_id, resolved, contacts, escalated in tickets:
        if resolved is None or rng.random() >= _CSAT_RESPONSE_SHARE:
            continue
        responded = resolved + 300 + int(rng.expovariate(1 / 8) * 3600)
        if responded < timeline.end:
            mean = 4.3 - 0.8 * escalated - 0.35 * max(0, (contacts or 1) - 1)
            responses.append(
                [responded, customer_id, "csat", float(min(5, max(1, round(rng.gauss(mean, 0.9)))))]
            )
    responses.sort(key=lambda response: response[0])
    _plant_invalid_scores(rng, timeline, responses)
    return [
        (response_id, customer_id, survey, score, timeline.text(responded))
        for response_id, (responded, customer_id, survey, score) in enumerate(responses, 1)
    ]


def _nps_score(rng: random.Random, region: str | None) -> float:
    """An integer 0..10 skewed positive, with a mean that depends on the region."""
    return float(min(10, max(0, round(rng.gauss(_NPS_MEAN_BY_REGION[region], 2.0)))))


def _plant_invalid_scores(rng: random.Random, timeline: _Timeline, responses: list[list]) -> None:
    """Overwrite a few scores with invalid values: one in last week and one at random, per kind."""
    for survey, invalid_score in _INVALID_SCORES:
        of_survey = [response for response in responses if response[2] == survey]
        last_week = [response for response in of_survey if response[0] >= timeline.last_week_start]
        for candidates in (last_week, of_survey):
            if candidates:
                rng.choice(candidates)[3] = invalid_score


def _write_database(path: str, tables: dict[str, list[tuple]], seed: int) -> None:
    """Create the schema, rows, marker and indexes in one transaction."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("BEGIN")
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                connection.execute(statement)
        for table, rows in tables.items():
            if rows:
                placeholders = ", ".join("?" * len(rows[0]))
                connection.executemany(f"INSERT INTO {table} VALUES ({placeholders})", rows)
        created_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0).isoformat(sep=" ")
        connection.execute(f"INSERT INTO {DEMO_MARKER_TABLE} VALUES (?, ?, ?)", (created_at, seed, GENERATOR))
        for table, column in INDEXED_COLUMNS:
            connection.execute(f"CREATE INDEX ix_{table}_{column} ON {table} ({column})")
        connection.execute("COMMIT")
    finally:
        connection.close()


def _time_of_day(rng: random.Random) -> int:
    """Seconds after midnight, following the hourly activity profile."""
    return rng.choices(range(24), weights=_HOUR_WEIGHTS)[0] * 3600 + rng.randrange(3600)


def _remove_if_present(path: str) -> None:
    """Delete a file if it exists."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


#: The demo's money columns (stock tables), written for a dollar-sized currency.
MONEY_COLUMNS = (("orders", "amount"), ("marketing_spend", "amount"))


def scale_demo_amounts(path: str | os.PathLike[str], factor: float, decimals: int = 2) -> None:
    """Multiply the demo database's amounts by ``factor`` (rounded to the currency's ``decimals``), so a
    demo in rials, rupees, taka or naira has the amounts a business there sees."""
    if factor == 1:
        return
    with contextlib.closing(sqlite3.connect(os.fspath(path))) as connection, connection:
        for table, column in MONEY_COLUMNS:
            connection.execute(f"UPDATE {table} SET {column} = ROUND({column} * ?, ?)", (factor, decimals))
