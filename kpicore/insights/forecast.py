"""Forecast: next period's value with a prediction interval.

Model: additive-error exponential smoothing with a damped additive trend (Holt's damped trend,
``statsmodels.tsa.exponential_smoothing.ets.ETSModel``), fitted by maximum likelihood on the history
(the period included); the interval is the model's own prediction interval at ``level``. statsmodels
is chosen over statsforecast because it is pure Python on NumPy/SciPy (statsforecast compiles its models
with numba on first use, seconds of start-up per process), deterministic, long maintained, and gives
analytic prediction intervals for ETS. It is imported only when a forecast is made.

The score is low (a forecast is context, not news) unless the interval lies wholly on the wrong side of
the metric's target, or the forecast itself does: then it needs attention.

The interval is the model's, widened by ``WIDEN`` (measured: the model's own 80 % interval held 70 % of
next values), and kept inside the metric's range: 0 to 100 for a percentage, -100 to 100 for NPS-like
points, 0 and up for counts (an amount such as revenue may go negative with refunds).

Limits: no seasonality in the model (a seasonal ETS needs several seasons of weekly history to estimate
52 effects); fewer than ``min_history`` values, a gap in them or a flat history: no forecast.
"""

from __future__ import annotations

import math
import warnings

from ..i18n import N_
from .base import Detector, Evidence, Insight, Number, Word

DEFAULTS = {"history": 26, "min_history": 10, "level": 0.8}
#: The model's interval, fitted on half a year, misses more often than it says: its 80 % interval held
#: 70 % of next values on the demo-like series of benchmarks/insights_eval.py; widened by 1.25 it held
#: 87 % on its scenarios (1,296 forecasts). 1.15 sits between the two.
WIDEN = 1.15
#: The values a metric of each unit can take: a forecast and its interval stay inside them. Amounts
#: (revenue) may go below zero with refunds; counts cannot.
RANGES = {"percent": (0.0, 100.0), "points": (-100.0, 100.0), "count": (0.0, math.inf)}


def clipped(mean: float, low: float, high: float, unit: str) -> tuple[float, float, float]:
    """``(mean, low, high)`` kept inside the range of ``unit`` (``RANGES``)."""
    floor, ceiling = RANGES.get(unit, (-math.inf, math.inf))

    def kept(x: float) -> float:
        return min(ceiling, max(floor, x))

    return kept(mean), kept(low), kept(high)


def forecast(values: list[float], level: float = 0.8) -> tuple[float, float, float] | None:
    """(forecast, low, high) of the value after ``values`` (oldest first); None when it cannot be fitted."""
    if len(values) < 4 or max(values) == min(values):
        return None
    import numpy as np
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    series = pd.Series(np.asarray(values, dtype=float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on short series; the result is checked below
        try:
            fitted = ETSModel(series, error="add", trend="add", damped_trend=True).fit(
                disp=False, maxiter=200
            )
            frame = fitted.get_prediction(start=len(series), end=len(series)).summary_frame(alpha=1 - level)
        except (ValueError, np.linalg.LinAlgError):
            return None
    mean, low, high = (float(frame[column].iloc[0]) for column in ("mean", "pi_lower", "pi_upper"))
    if not all(math.isfinite(x) for x in (mean, low, high)):
        return None
    return mean, mean - WIDEN * (mean - low), mean + WIDEN * (high - mean)


class Forecast(Detector):
    kind = "forecast"
    description = "next period's value with a prediction interval (damped-trend exponential smoothing)"
    settings = dict(DEFAULTS)

    def history(self, metric, period, settings, options):
        return int(settings["history"])

    def detect(self, evidence: Evidence) -> list[Insight]:
        values = [v for v in evidence.values if v is not None]
        if len(values) < int(evidence.settings["min_history"]) or len(values) < len(evidence.history):
            return []
        level = float(evidence.settings["level"])
        found = forecast(values, level)
        if found is None:
            return []
        mean, low, high = found
        mean, low, high = clipped(mean, low, high, evidence.metric.unit)
        if evidence.metric.unit == "count":
            mean, low, high = round(mean), math.floor(low), math.ceil(high)  # whole records
        next_label = evidence.period.shifted(-1).label
        unit = evidence.metric.unit
        score, worse = 0.2, False
        # How sure, in an owner's words: "80% likely between", not "80% range" (an interval's level).
        message = N_(
            "Forecast for %(next)s: %(metric)s %(value)s (%(level)s likely between %(low)s and %(high)s)."
        )
        target = evidence.result.target_status.target if evidence.result.target_status else None
        if target is not None:
            from ..targets import status

            if status(target, mean, evidence.metric.better).on_track is False:
                score, worse = 0.55, True
                message = N_(
                    "Forecast for %(next)s: %(metric)s %(value)s (%(level)s likely between %(low)s and %(high)s), "
                    "off its target."
                )
        return [
            Insight(
                metric=evidence.metric.name,
                kind=self.kind,
                score=score,
                period=evidence.result.period,
                message=message,
                values={
                    "metric": Word(evidence.metric.title),
                    "value": Number(mean, unit),
                    "low": Number(low, unit),
                    "high": Number(high, unit),
                    "level": Number(level, "share"),
                    "next": next_label,
                },
                numbers={
                    "forecast": mean,
                    "low": low,
                    "high": high,
                    "level": level,
                    "next_period": next_label,
                    "history": len(values),
                    "model": "ETS(A,Ad,N)",
                },
                needs_attention=worse,
            )
        ]
