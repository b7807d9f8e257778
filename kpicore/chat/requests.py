"""The typed requests the ``/kpi`` grammar returns, and :class:`CommandError` for text it cannot read."""

from __future__ import annotations

from dataclasses import dataclass

from kpicore.errors import ConfigError
from kpicore.periods import Period


class CommandError(ConfigError):
    """A ``/kpi`` command could not be read; the message says what and how to write it."""

    def __init__(self, message: str, *, kind: str = "syntax", suggestions: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.kind = kind
        self.suggestions = suggestions


@dataclass(frozen=True)
class HelpRequest:
    """``/kpi help`` (or an empty command)."""


@dataclass(frozen=True)
class ListRequest:
    """``/kpi list``: the metrics this channel may ask for, and the digests."""


@dataclass(frozen=True)
class DigestRequest:
    """``/kpi digest NAME``: a preview of that digest for its current period."""

    name: str


@dataclass(frozen=True)
class MetricRequest:
    """``/kpi METRIC... [PERIOD] [by DIM] [vs PERIOD] [chart] [share]``.

    ``period_text`` is the period as the grammar reads it again (a form ``parse_period`` reads); ``vs`` is None
    to compare with the period just before. ``year_over_year`` is set by ``vs last year`` (``vs a year
    ago``): ``vs`` is then the same period a year before (:func:`kpicore.periods.year_before`) and the
    answer compares with it as ``kpi compute --compare last-year`` does, saying so when there is no data.
    """

    metrics: tuple[str, ...]
    period: Period
    period_text: str
    by: str | None = None
    vs: Period | None = None
    vs_text: str | None = None
    chart: bool = False
    share: bool = False
    year_over_year: bool = False

    def command_text(self) -> str:
        """The request as command text the grammar reads back to the same request (for buttons)."""
        parts = [*self.metrics, self.period_text]
        if self.by:
            parts += ["by", self.by]
        if self.vs_text:
            parts += ["vs", self.vs_text]
        if self.chart:
            parts.append("chart")
        if self.share:
            parts.append("share")
        return " ".join(parts)


@dataclass(frozen=True)
class FollowRequest:
    """``/kpi follow METRIC [by DIM]``: the metric in the asker's personal weekly message."""

    metric: str
    by: str | None = None


@dataclass(frozen=True)
class UnfollowRequest:
    """``/kpi unfollow METRIC``."""

    metric: str


@dataclass(frozen=True)
class FollowingRequest:
    """``/kpi following``: the metrics the asker follows."""


Request = (
    HelpRequest
    | ListRequest
    | DigestRequest
    | MetricRequest
    | FollowRequest
    | UnfollowRequest
    | FollowingRequest
)
#: The requests about follows, answered by :mod:`kpicore.chat.follow_answers`.
FOLLOW_REQUESTS = (FollowRequest, UnfollowRequest, FollowingRequest)
