"""Answering the lifetime measures of ``clv`` and ``repeat_purchase_rate`` from the stored aggregates.

A window ending at or before the cutoff is answered from the per-day totals alone (a local midnight is a
day boundary); a window ending after it adds the rows read live since the cutoff, their customers
joined with the stored aggregates in the state database (``merge``). A window ending before the cutoff
at another moment than a local midnight (the earlier spans of a to-date period) is not answered: the
engine computes the whole call.
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
import time
from collections import defaultdict

from ..metrics.orders import (
    LIFETIME_NO_AMOUNT,
    LIFETIME_NO_CUSTOMER,
    CustomerLifetimeValue,
    RepeatPurchaseRate,
)
from ..periods import _midnight
from . import sql, store

log = logging.getLogger("kpicore.incremental")
#: When this process last refreshed each state database's aggregates (time.monotonic()).
CHECKED: dict[str, float] = {}
#: Per state database, the totals `/kpi` answered for windows that had ended, by (cutoff, window ends,
#: totals); emptied at each refresh of that database's aggregates (``Provider.cached_values``).
ANSWERED_CACHE: dict[str, dict[tuple, list[dict[str, float]]]] = {}
#: The `/kpi` surface, whose checks outlive one call.
CHAT = "chat"


def _bound(metric, name: str):
    """A stock metric's measure as the engine plans it (its entity and time column filled in)."""
    return metric.measures[name].bound_to(metric.entity, metric.time)


#: The measures answered from the aggregates, each with the per-day total it sums.
ANSWERED = {
    _bound(CustomerLifetimeValue, "lifetime_revenue"): "revenue",
    _bound(CustomerLifetimeValue, "customers"): "customers",
    _bound(RepeatPurchaseRate, "purchasers"): "purchasers",
    _bound(RepeatPurchaseRate, "repeaters"): "repeaters",
    LIFETIME_NO_AMOUNT.bound_to("orders", "ordered_at"): "no_amount",
    LIFETIME_NO_CUSTOMER.bound_to("orders", "ordered_at"): "no_customer",
}
#: The columns of orders the aggregates read.
COLUMNS = ("order_id", "customer_id", "amount", "ordered_at")


def wanted(the_plan) -> dict:
    return {m: ANSWERED[m] for ms in the_plan.measures.values() for m in ms if m in ANSWERED}


def answerable(source, windows, cutoff: dt.datetime) -> bool:
    """Every window ends after the cutoff or at a local midnight (a day boundary of the aggregates)."""
    zone = source.timezone
    for window in windows:
        end = window.end
        if end <= cutoff and end != _midnight(end.astimezone(zone).date(), zone):
            return False
    return True


def values(source, engine, windows, keys: set[str], cutoff: dt.datetime) -> list[dict[str, float]]:
    """Per window, the lifetime totals ``keys`` of every valid order before the window's end."""
    zone = source.timezone
    stored = sorted(store.read_days(engine).items())
    order = [day for day, _ in stored]
    running: dict[str, list[float]] = {k: [0] for k in store.DAY_COUNTS}
    for _, row in stored:
        for k in store.DAY_COUNTS:
            running[k].append(running[k][-1] + row[k])
    at_cutoff = {k: running[k][-1] for k in store.DAY_COUNTS}
    later = sorted({w.end for w in windows if w.end > cutoff})
    tail = _tail(source, engine, [cutoff, *later]) if later else {}
    answers: list[dict[str, float]] = []
    for window in windows:
        end = window.end
        if end <= cutoff:
            index = bisect.bisect_left(order, end.astimezone(zone).date().toordinal())
            answers.append({k: running[k][index] for k in keys})
        else:
            j = later.index(end) + 1
            answers.append(
                {k: at_cutoff[k] + sum(tail.get(k, {}).get(s, 0) for s in range(1, j + 1)) for k in keys}
            )
    return answers


def _tail(source, engine, bounds) -> dict[str, dict[int, float]]:
    """Per total, per slice between ``bounds``: what the rows read live add to the stored totals, read
    from the source once and merged with the stored customers in the state database (``merge``)."""
    from . import merge

    totals: dict[str, dict[int, float]] = {k: defaultdict(float) for k in store.DAY_COUNTS}
    with engine.begin() as connection:
        store.roomy(connection)
        with merge.span_table(connection) as span:
            merge.load(connection, span, store._stream(source, sql.tail_query(source, bounds)))
            merge.add_totals(connection, span, totals)
            with merge.span_customers(connection, span) as found:
                merge.add_firsts(connection, found, store.customers, totals)
    return totals


class Provider:
    """The ``compute.ANSWERS`` function of one run: refreshes the store once, then answers."""

    def __init__(
        self, config, engine, *, late_data: float, recompute: str, full: bool, verify_every: float, now=None
    ):
        # engine: the state database, or a function opening it (on first need: a call without clv or
        # repeat_purchase_rate opens nothing); now: a fixed clock (tests, benchmarks).
        self.config, self._engine, self.now = config, engine, now
        self.late_data, self.recompute, self.full = late_data, recompute, full
        self.verify_every = verify_every
        self.last_refresh: store.Refresh | None = None
        #: How many compute calls were answered from the aggregates; how many of them from the cache.
        self.answered = 0
        self.cached = 0

    @property
    def engine(self):
        if callable(self._engine):
            self._engine = self._engine()
        return self._engine

    def __call__(self, source, the_plan, windows, config) -> dict | None:
        keys = wanted(the_plan)
        if not keys:
            return None
        try:
            relation = source.relation("orders")
        except Exception:
            return None
        if any(c not in relation.columns or c in relation.missing for c in COLUMNS):
            return None
        try:
            key = str(self.engine.url)
            checked = CHECKED.get(key)
            if self.full or checked is None or time.monotonic() - checked >= self.verify_every:
                self.last_refresh = store.refresh(
                    source,
                    config,
                    self.engine,
                    late_data=self.late_data,
                    recompute=self.recompute,
                    full=self.full,
                    now=self.now,
                )
                self.full = False
                ANSWERED_CACHE.pop(key, None)
                CHECKED[key] = time.monotonic()
                log.info("incremental aggregates: %s %s", self.last_refresh.kind, self.last_refresh.reason)
            cutoff = dt.datetime.fromisoformat(store.read_meta(self.engine)["cutoff"])
            if not answerable(source, windows, cutoff):
                return None
            per_window = self.cached_values(source, windows, set(keys.values()), cutoff)
        except Exception as error:
            log.warning("incremental aggregates not used (%s): computing from every order", error)
            return None
        self.answered += 1
        return {measure: [answer[key] for answer in per_window] for measure, key in keys.items()}

    def cached_values(self, source, windows, keys: set[str], cutoff: dt.datetime) -> list[dict[str, float]]:
        """``values``; for `/kpi` (``verify_every``), windows that have all ended are answered again from
        the totals of the first call until the next refresh (at most ``verify_every`` later), so a row
        of those windows that changes or arrives late shows within that interval, as a change of the
        older rows does. A window still open (ending after now) is always read live."""
        if not self.verify_every:
            return values(source, self.engine, windows, keys, cutoff)
        from .. import clock

        now = self.now or clock.now()
        ends = tuple(w.end for w in windows)
        key = (cutoff, ends, tuple(sorted(keys)))
        cache = ANSWERED_CACHE.setdefault(str(self.engine.url), {})
        if key in cache:
            self.cached += 1
            return cache[key]
        found = values(source, self.engine, windows, keys, cutoff)
        if max(ends) <= now:
            if len(cache) >= 64:
                cache.clear()
            cache[key] = found
        return found
