"""Revenue at risk: an unusual rise in churn (or fall in retention) said as money, an estimate.

From the aggregates kpicore already computes, nothing else:

- *customers lost above the expected level*: (value - expected) / 100 x the customers the rate is of
  (``n``, the customers active at the period's start), for churn; (expected - value) for retention;
- *revenue per customer a month*: the revenue of the ``PERIODS`` periods before this one divided by
  the active customers summed over the same periods (revenue per active customer a period), times
  the periods in an average month (30.44 days / the period's days);
- *revenue at risk a month* = the two multiplied: what the customers lost above the usual level
  brought in a month, on average. Said rounded (two significant figures: "about $2,400 a month") and
  labelled an estimate; how it was computed is in the insight's ``details`` (``revenue_at_risk``).

Only for a change that needs attention, and only when the source has revenue and active customers
for those periods (else nothing is said).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence

from ..errors import KpiError
from ..i18n import N_
from ..source import EntityUnavailable
from .base import Insight, Number, Part

_log = logging.getLogger("kpicore.insights")

#: Metrics whose unusual change loses customers, and which way: +1 when a higher value loses them.
AT_RISK = {"churn_rate": 1, "retention_rate": -1}
#: Periods before this one the revenue per customer is averaged over (the band's ``level_window``).
PERIODS = 13
#: Days in an average month.
MONTH_DAYS = 365.25 / 12

RISK = N_("Revenue at risk: about %(amount)s a month (an estimate).")


def revenue_at_risk(
    lost: float, revenue: Sequence[float | None], active: Sequence[float | None], period_days: float
) -> dict[str, float] | None:
    """The estimate for ``lost`` customers above the expected level, from the revenue and the active
    customers of the same earlier periods (pairs where either is missing are left out); None when
    there is nothing to say."""
    pairs = [(r, a) for r, a in zip(revenue, active, strict=True) if r is not None and a is not None]
    customers = sum(a for _, a in pairs)
    if lost <= 0 or not pairs or customers <= 0 or period_days <= 0:
        return None
    per_period = sum(r for r, _ in pairs) / customers
    per_month = per_period * MONTH_DAYS / period_days
    return {
        "monthly": lost * per_month,
        "customers_above_expected": lost,
        "revenue_per_customer_month": per_month,
        "periods": len(pairs),
    }


def with_revenue_at_risk(
    insights: Sequence[Insight], results: Mapping[str, object], period, source, config, registry
) -> list[Insight]:
    """``insights`` with each whole-metric unusual change of churn or retention that needs attention
    given its revenue at risk (a sentence in ``more``, the figures in ``numbers``)."""
    wanted = {
        id(i)
        for i in insights
        if i.kind == "unusual" and not i.segment and i.needs_attention and i.metric in AT_RISK
    }
    if not wanted:
        return list(insights)
    history = _revenue_history(period, source, config, registry)
    if history is None:
        return list(insights)
    days = (period.end - period.start).total_seconds() / 86400
    found = []
    for insight in insights:
        result = results.get(insight.metric)
        if id(insight) in wanted and result is not None and getattr(result, "n", None):
            value, expected = insight.numbers.get("value"), insight.numbers.get("expected")
            if value is not None and expected is not None:
                lost = AT_RISK[insight.metric] * (value - expected) / 100 * result.n  # type: ignore[attr-defined]
                risk = revenue_at_risk(lost, history[0], history[1], days)
                if risk is not None:
                    insight = dataclasses.replace(
                        insight,
                        more=(*insight.more, Part(RISK, {"amount": Number(risk["monthly"], "estimate")})),
                        numbers={**insight.numbers, "revenue_at_risk": risk},
                    )
        found.append(insight)
    return found


def _revenue_history(period, source, config, registry) -> tuple[list, list] | None:
    """(revenue, active customers) of the ``PERIODS`` periods before ``period``, or None when the source
    cannot give them."""
    from ..compute import compute

    known = registry.metrics if registry is not None else {}
    if "revenue" not in known or "active_customers" not in known:
        return None
    try:
        metrics = [known["revenue"].item, known["active_customers"].item]
        revenue, active = compute(metrics, period, source, config=config, trend=PERIODS + 1)
    except (KpiError, EntityUnavailable) as error:
        _log.info("no revenue at risk: %s", error)
        return None
    if not (revenue.ok and active.ok and revenue.trend and active.trend):
        return None
    return ([p.value for p in revenue.trend[:-1]], [p.value for p in active.trend[:-1]])
