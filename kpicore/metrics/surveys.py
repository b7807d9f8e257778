"""Default plugin: survey metrics (NPS, CSAT)."""

from __future__ import annotations

from ..hookspecs import hookimpl
from ..metric import Measure, Metric, percent


def _survey(name: str):
    return lambda t: t.survey == name


def _valid_score(low: int, high: int):
    def valid(t):
        return t.score.is_not(None) & t.is_integer(t.score) & t.score.between(low, high)

    return valid


class NPS(Metric):
    name = "nps"
    title = "Net Promoter Score"
    description = "100 x (promoters 9-10 - detractors 0-6) / valid nps responses, responded_at in the period."
    unit = "points"
    better = "higher"
    entity = "survey_responses"
    time = "responded_at"
    n = "responses"
    rules = (
        "Only survey = 'nps' rows count.",
        "A score that is NULL, not a whole number or outside 0..10 is left out and warned.",
        "Passives (7-8) count in the denominator only.",
        "A response with no responded_at is left out and warned.",
    )

    def measures(self, config=None):
        valid = _valid_score(0, 10)
        survey = _survey("nps")
        return {
            "promoters": Measure.count(where=lambda t: survey(t) & valid(t) & (t.score >= 9)),
            "detractors": Measure.count(where=lambda t: survey(t) & valid(t) & (t.score <= 6)),
            "responses": Measure.count(where=lambda t: survey(t) & valid(t)),
            "invalid": Measure.count(
                where=lambda t: survey(t) & ~valid(t),
                warn="nps responses with a score that is missing, not a whole number or outside 0..10",
            ),
            "no_time": Measure.missing_time("nps responses with no responded_at", where=survey),
        }

    def value(self, m):
        return percent(m.promoters - m.detractors, m.responses)

    def variance(self, m):
        """The multinomial variance: each response is a promoter (+100), a passive (0) or a detractor
        (-100), so NPS = 100 (p - d) has variance 100^2 (p + d - (p - d)^2) / n over n responses."""
        if not m.responses:
            return None
        p, d = m.promoters / m.responses, m.detractors / m.responses
        return 100.0**2 * (p + d - (p - d) ** 2) / m.responses


class CSAT(Metric):
    name = "csat"
    title = "Customer satisfaction (CSAT)"
    description = (
        "100 x responses scoring 4 or 5 / valid csat responses (scores 1..5), responded_at in the period."
    )
    unit = "percent"
    better = "higher"
    entity = "survey_responses"
    time = "responded_at"
    n = "responses"
    rules = (
        "Only survey = 'csat' rows count.",
        "A score that is NULL, not a whole number or outside 1..5 is left out and warned.",
        "A response with no responded_at is left out and warned.",
    )

    def measures(self, config=None):
        valid = _valid_score(1, 5)
        survey = _survey("csat")
        return {
            "satisfied": Measure.count(where=lambda t: survey(t) & valid(t) & (t.score >= 4)),
            "responses": Measure.count(where=lambda t: survey(t) & valid(t)),
            "invalid": Measure.count(
                where=lambda t: survey(t) & ~valid(t),
                warn="csat responses with a score that is missing, not a whole number or outside 1..5",
            ),
            "no_time": Measure.missing_time("csat responses with no responded_at", where=survey),
        }

    def value(self, m):
        return percent(m.satisfied, m.responses)


@hookimpl(trylast=True)
def register_metrics(register):
    register(NPS())
    register(CSAT())
