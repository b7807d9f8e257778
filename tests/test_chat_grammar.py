"""The /kpi grammar: a table of phrasings, the errors, and that no input raises anything else."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpicore.chat.grammar import (
    ALIASES,
    CommandError,
    DigestRequest,
    FollowingRequest,
    FollowRequest,
    HelpRequest,
    ListRequest,
    MetricRequest,
    UnfollowRequest,
    Vocabulary,
    parse_command,
)

#: The stock metrics' names and titles (as kpicore.metrics registers them).
STOCK = {
    "new_customers": "New customers",
    "churn_rate": "Churn rate",
    "retention_rate": "Retention rate",
    "active_customers": "Active customers",
    "revenue": "Revenue",
    "aov": "Average order value",
    "clv": "Customer lifetime value (historical)",
    "clv_predictive": "Customer lifetime value (predictive)",
    "repeat_purchase_rate": "Repeat purchase rate",
    "nps": "Net Promoter Score",
    "csat": "Customer satisfaction (CSAT)",
    "cac": "Customer acquisition cost",
    "conversion_rate": "Lead conversion rate",
    "fcr": "First-contact resolution",
    "escalation_rate": "Escalation rate",
}
VOCABULARY = Vocabulary(STOCK, digests=("weekly", "Monthly-Board"))
NOW = datetime(2026, 12, 1, 10, 30, tzinfo=UTC)  # a Tuesday in ISO week 2026-W49


def parse(text: str, tz: str = "UTC"):
    return parse_command(text, VOCABULARY, tz, NOW)


# text -> (metrics, period label, by, vs label, chart, share)
TABLE = [
    ("nps", ("nps",), "2026-W48", None, None, False, False),
    ("nps last week", ("nps",), "2026-W48", None, None, False, False),
    ("NPS Last Week", ("nps",), "2026-W48", None, None, False, False),
    ("nps last-week", ("nps",), "2026-W48", None, None, False, False),
    ("nps this week", ("nps",), "2026-W49", None, None, False, False),
    ("nps this-week", ("nps",), "2026-W49", None, None, False, False),
    ("nps past week", ("nps",), "2026-W48", None, None, False, False),
    ("nps previous week", ("nps",), "2026-W48", None, None, False, False),
    ("nps this month", ("nps",), "2026-12", None, None, False, False),
    ("nps last month", ("nps",), "2026-11", None, None, False, False),
    ("nps previous month", ("nps",), "2026-11", None, None, False, False),
    ("nps yesterday", ("nps",), "2026-11-30", None, None, False, False),
    ("nps today", ("nps",), "2026-12-01", None, None, False, False),
    ("nps last 7 days", ("nps",), "2026-11-24..2026-11-30", None, None, False, False),
    ("nps last-7-days", ("nps",), "2026-11-24..2026-11-30", None, None, False, False),
    ("nps past 30 days", ("nps",), "2026-11-01..2026-11-30", None, None, False, False),
    ("nps last 2 weeks", ("nps",), "2026-11-17..2026-11-30", None, None, False, False),
    ("nps q3", ("nps",), "2026-Q3", None, None, False, False),
    ("nps Q3", ("nps",), "2026-Q3", None, None, False, False),
    ("nps q1", ("nps",), "2026-Q1", None, None, False, False),
    ("nps q4", ("nps",), "2026-Q4", None, None, False, False),
    ("nps Q3 2025", ("nps",), "2025-Q3", None, None, False, False),
    ("nps 2025 q2", ("nps",), "2025-Q2", None, None, False, False),
    ("nps quarter 2 2025", ("nps",), "2025-Q2", None, None, False, False),
    ("nps this quarter", ("nps",), "2026-Q4", None, None, False, False),
    ("nps last quarter", ("nps",), "2026-Q3", None, None, False, False),
    ("nps this year", ("nps",), "2026", None, None, False, False),
    ("nps last year", ("nps",), "2025", None, None, False, False),
    ("nps november", ("nps",), "2026-11", None, None, False, False),
    ("nps November", ("nps",), "2026-11", None, None, False, False),
    ("nps nov", ("nps",), "2026-11", None, None, False, False),
    ("nps december", ("nps",), "2026-12", None, None, False, False),
    ("nps january", ("nps",), "2026-01", None, None, False, False),
    ("nps march 2025", ("nps",), "2025-03", None, None, False, False),
    ("nps sept 2025", ("nps",), "2025-09", None, None, False, False),
    ("nps 2026-W47", ("nps",), "2026-W47", None, None, False, False),
    ("nps 2026-w47", ("nps",), "2026-W47", None, None, False, False),
    ("nps w47", ("nps",), "2026-W47", None, None, False, False),
    ("nps week 47", ("nps",), "2026-W47", None, None, False, False),
    ("nps week 50", ("nps",), "2025-W50", None, None, False, False),
    ("nps week 3 2026", ("nps",), "2026-W03", None, None, False, False),
    ("nps 2026-11", ("nps",), "2026-11", None, None, False, False),
    ("nps 2026-Q4", ("nps",), "2026-Q4", None, None, False, False),
    ("nps 2026", ("nps",), "2026", None, None, False, False),
    ("nps 2026-11-23", ("nps",), "2026-11-23", None, None, False, False),
    ("nps 2026-11-01..2026-11-15", ("nps",), "2026-11-01..2026-11-15", None, None, False, False),
    ("nps 2026-11-01 to 2026-11-15", ("nps",), "2026-11-01..2026-11-15", None, None, False, False),
    ("nps from 2026-11-01 to 2026-11-15", ("nps",), "2026-11-01..2026-11-15", None, None, False, False),
    ("nps for last week", ("nps",), "2026-W48", None, None, False, False),
    ("nps in november", ("nps",), "2026-11", None, None, False, False),
    ("show me nps for last month", ("nps",), "2026-11", None, None, False, False),
    ("what was nps last week?", ("nps",), "2026-W48", None, None, False, False),
    # metrics by title and alias
    ("churn last month by region", ("churn_rate",), "2026-11", "region", None, False, False),
    ("churn_rate", ("churn_rate",), "2026-W48", None, None, False, False),
    ("churn rate", ("churn_rate",), "2026-W48", None, None, False, False),
    ("Churn Rate last week", ("churn_rate",), "2026-W48", None, None, False, False),
    ("ltv", ("clv",), "2026-W48", None, None, False, False),
    ("LTV q3", ("clv",), "2026-Q3", None, None, False, False),
    ("lifetime value", ("clv",), "2026-W48", None, None, False, False),
    ("customer lifetime value last month", ("clv",), "2026-11", None, None, False, False),
    ("customer lifetime value (predictive)", ("clv_predictive",), "2026-W48", None, None, False, False),
    ("predictive ltv", ("clv_predictive",), "2026-W48", None, None, False, False),
    ("satisfaction", ("csat",), "2026-W48", None, None, False, False),
    ("customer satisfaction yesterday", ("csat",), "2026-11-30", None, None, False, False),
    ("CSAT", ("csat",), "2026-W48", None, None, False, False),
    ("net promoter score", ("nps",), "2026-W48", None, None, False, False),
    ("aov", ("aov",), "2026-W48", None, None, False, False),
    ("average order value this month", ("aov",), "2026-12", None, None, False, False),
    ("conversion", ("conversion_rate",), "2026-W48", None, None, False, False),
    ("lead conversion rate", ("conversion_rate",), "2026-W48", None, None, False, False),
    ("first-contact resolution", ("fcr",), "2026-W48", None, None, False, False),
    ("first contact resolution last 7 days", ("fcr",), "2026-11-24..2026-11-30", None, None, False, False),
    ("retention", ("retention_rate",), "2026-W48", None, None, False, False),
    ("revenue", ("revenue",), "2026-W48", None, None, False, False),
    ("sales last month", ("revenue",), "2026-11", None, None, False, False),
    ("new customers", ("new_customers",), "2026-W48", None, None, False, False),
    ("signups this week", ("new_customers",), "2026-W49", None, None, False, False),
    # several metrics
    ("nps csat", ("nps", "csat"), "2026-W48", None, None, False, False),
    ("nps, csat, fcr last week", ("nps", "csat", "fcr"), "2026-W48", None, None, False, False),
    ("nps and csat and churn", ("nps", "csat", "churn_rate"), "2026-W48", None, None, False, False),
    ("nps & csat", ("nps", "csat"), "2026-W48", None, None, False, False),
    ("nps nps", ("nps",), "2026-W48", None, None, False, False),
    ("revenue aov last month by channel", ("revenue", "aov"), "2026-11", "channel", None, False, False),
    # by, vs, chart, share in any order
    ("nps by region", ("nps",), "2026-W48", "region", None, False, False),
    ("nps by Region last week", ("nps",), "2026-W48", "Region", None, False, False),
    ("nps last week by plan", ("nps",), "2026-W48", "plan", None, False, False),
    ("nps by region last week", ("nps",), "2026-W48", "region", None, False, False),
    ("nps last week vs 2026-W40", ("nps",), "2026-W48", None, "2026-W40", False, False),
    ("nps vs 2026-W40", ("nps",), "2026-W48", None, "2026-W40", False, False),
    ("nps last week versus last month", ("nps",), "2026-W48", None, "2026-11", False, False),
    ("nps q3 vs q2", ("nps",), "2026-Q3", None, "2026-Q2", False, False),
    ("nps november vs october", ("nps",), "2026-11", None, "2026-10", False, False),
    ("nps last month vs last year", ("nps",), "2026-11", None, "2025-11", False, False),
    ("nps last week vs a year ago", ("nps",), "2026-W48", None, "2025-W48", False, False),
    ("nps q3 compared to q3 2025", ("nps",), "2026-Q3", None, "2025-Q3", False, False),
    (
        "nps 2026-11-01..2026-11-15 vs last year",
        ("nps",),
        "2026-11-01..2026-11-15",
        None,
        "2025-11-01..2025-11-15",
        False,
        False,
    ),
    # vs last year: the same ISO week number (W53 with W52), month, quarter, year or dates a year before
    ("nps 2026-W53 vs last year", ("nps",), "2026-W53", None, "2025-W52", False, False),
    (
        "nps 2021-W52 vs last year",
        ("nps",),
        "2021-W52",
        None,
        "2020-W52",
        False,
        False,
    ),  # not 52 weeks back: W53
    ("revenue q3 vs last year", ("revenue",), "2026-Q3", None, "2025-Q3", False, False),
    ("nps this week vs last year", ("nps",), "2026-W49", None, "2025-W49", False, False),
    ("nps 2024-02-29 vs last year", ("nps",), "2024-02-29", None, "2023-02-28", False, False),
    ("nps 2026 vs a year ago", ("nps",), "2026", None, "2025", False, False),
    ("nps vs year ago", ("nps",), "2026-W48", None, "2025-W48", False, False),
    (
        "churn last month by region vs same period last year chart",
        ("churn_rate",),
        "2026-11",
        "region",
        "2025-11",
        True,
        False,
    ),
    ("nps last week vs previous", ("nps",), "2026-W48", None, None, False, False),
    ("nps last week chart", ("nps",), "2026-W48", None, None, True, False),
    ("nps chart", ("nps",), "2026-W48", None, None, True, False),
    ("nps last week share", ("nps",), "2026-W48", None, None, False, True),
    ("share nps", ("nps",), "2026-W48", None, None, False, True),
    (
        "nps last week by region vs 2026-W40 chart share",
        ("nps",),
        "2026-W48",
        "region",
        "2026-W40",
        True,
        True,
    ),
    ("nps share chart by region last week", ("nps",), "2026-W48", "region", None, True, True),
]


@pytest.mark.parametrize(
    ("text", "metrics", "period", "by", "vs", "chart", "share"), TABLE, ids=[t[0] for t in TABLE]
)
def test_phrasing(text, metrics, period, by, vs, chart, share):
    request = parse(text)
    assert isinstance(request, MetricRequest)
    assert request.metrics == metrics
    assert request.period.label == period
    assert request.by == by
    assert (request.vs.label if request.vs else None) == vs
    assert (request.chart, request.share) == (chart, share)


@pytest.mark.parametrize(
    ("text", "year_over_year"),
    [
        ("nps last week vs last year", True),
        ("nps q3 vs a year ago", True),
        ("nps vs same period last year", True),
        ("nps last week vs 2025-W48", False),
        ("nps last week", False),
        ("nps last year", False),
    ],
)
def test_vs_last_year_asks_for_a_year_over_year_comparison(text, year_over_year):
    request = parse(text)
    assert request.year_over_year is year_over_year
    assert (request.vs_text == "last year") is year_over_year


def test_this_week_vs_last_year_covers_the_same_elapsed_span():
    request = parse("nps this week vs last year")
    assert request.vs.start.isoformat() == "2025-12-01T00:00:00+00:00"
    assert request.vs.end.isoformat() == "2025-12-02T10:30:00+00:00"


def test_table_is_large():
    assert len(TABLE) + len(FOLLOW_TABLE) >= 80


@pytest.mark.parametrize("text", [t[0] for t in TABLE])
def test_command_text_reads_back_to_the_same_request(text):
    request = parse(text)
    again = parse(request.command_text())
    assert again == request


def test_periods_are_instants_in_the_business_timezone():
    request = parse("nps last week", tz="Europe/Berlin")
    assert request.period.start_iso() == "2026-11-23T00:00:00+01:00"
    assert request.period.end_iso() == "2026-11-30T00:00:00+01:00"


def test_to_date_periods_run_to_now():
    request = parse("nps this month")
    assert request.period.end == NOW.replace(second=0, microsecond=0) or request.period.end == NOW
    assert request.period.previous().end.day == 1 and request.period.previous().end.hour == 10
    quarter = parse("nps this quarter").period
    assert quarter.end == NOW and quarter.previous().label == "2026-Q3"
    assert quarter.previous().end < quarter.previous().start.replace(month=10)


@pytest.mark.parametrize(
    ("text", "request_type"),
    [
        ("", HelpRequest),
        ("help", HelpRequest),
        ("HELP me", HelpRequest),
        ("?", HelpRequest),
        ("list", ListRequest),
        ("metrics", ListRequest),
    ],
)
def test_help_and_list(text, request_type):
    assert isinstance(parse(text), request_type)


FOLLOW_TABLE = [
    ("follow nps", FollowRequest("nps")),
    ("FOLLOW NPS", FollowRequest("nps")),
    ("follow churn by region", FollowRequest("churn_rate", "region")),
    ("follow churn rate by Region", FollowRequest("churn_rate", "Region")),
    ("follow customer lifetime value", FollowRequest("clv")),
    ("follow the ltv", FollowRequest("clv")),
    ("subscribe csat", FollowRequest("csat")),
    ("follow first-contact resolution by channel", FollowRequest("fcr", "channel")),
    ("unfollow nps", UnfollowRequest("nps")),
    ("unfollow churn rate", UnfollowRequest("churn_rate")),
    ("unsubscribe satisfaction", UnfollowRequest("csat")),
    ("following", FollowingRequest()),
    ("Following", FollowingRequest()),
]


@pytest.mark.parametrize(("text", "expected"), FOLLOW_TABLE, ids=[t[0] for t in FOLLOW_TABLE])
def test_follow_phrasing(text, expected):
    assert parse(text) == expected


def test_digest():
    assert parse("digest weekly") == DigestRequest("weekly")
    assert parse("digest WEEKLY") == DigestRequest("weekly")
    assert parse("digest monthly-board") == DigestRequest("Monthly-Board")


@pytest.mark.parametrize(
    ("text", "kind", "says"),
    [
        ("chrun last week", "metric", "did you mean churn_rate"),
        ("nsp", "metric", "did you mean nps"),
        ("revenu by region", "metric", "did you mean revenue"),
        ("nps flurb", "metric", "unknown metric 'flurb'"),
        ("last week", "metric", "which metric?"),
        ("nps last fortnight", "period", "last 7 days"),
        ("nps 2026-W60", "period", "2026-W47"),
        ("nps 2026-13", "period", "can't read the period"),
        ("nps q5", "period", "can't read"),
        ("nps last 9999 days", "period", "can't read"),
        ("nps last week last month", "period", "two periods"),
        ("nps by", "dimension", "by what?"),
        ("nps by region by plan", "dimension", "one `by`"),
        ("nps by reg$ion", "dimension", "not a dimension name"),
        ("nps vs", "period", "vs what?"),
        ("nps vs flurb", "period", "after vs"),
        ("digest", "digest", "weekly"),
        ("digest wekly", "digest", "did you mean weekly"),
        ("digest nothing-like-it", "digest", "the digests are"),
        (" ".join(["nps"] * 61), "syntax", "under 60"),
        ("follow", "metric", "follow which metric?"),
        ("follow chrun", "metric", "did you mean churn_rate"),
        ("follow nps csat", "follow", "one metric at a time"),
        ("follow nps last week", "follow", "can't read 'last week' after nps"),
        ("follow nps by", "dimension", "by what?"),
        ("follow nps by reg$ion", "dimension", "not a dimension name"),
        ("unfollow nps by region", "follow", "no `by` needed"),
        ("unfollow", "metric", "unfollow which metric?"),
        ("following nps", "follow", "takes nothing after it"),
        (" ".join(sorted(STOCK)), "metric", "at most 10"),
    ],
)
def test_errors(text, kind, says):
    with pytest.raises(CommandError) as caught:
        parse(text)
    assert caught.value.kind == kind
    assert says in str(caught.value)


def test_suggestions_are_names():
    with pytest.raises(CommandError) as caught:
        parse("satisfacton")
    assert caught.value.suggestions[0] == "csat"


def test_aliases_only_for_registered_metrics():
    vocabulary = Vocabulary({"nps": "Net Promoter Score"})
    with pytest.raises(CommandError):
        parse_command("churn", vocabulary, "UTC", NOW)
    assert set(ALIASES.values()) <= set(STOCK)


def test_the_stock_registry_has_these_titles():
    from kpicore.metric import Metric
    from kpicore.metrics import customers, leads, marketing, orders, support, surveys

    registered = {}
    for module in (customers, leads, marketing, orders, support, surveys):
        module.register_metrics(lambda metric: registered.__setitem__(metric.name, metric.title))
    assert all(isinstance(name, str) for name in registered)
    assert registered == STOCK
    assert Metric


WORDS = st.sampled_from(
    [
        "nps",
        "csat",
        "by",
        "vs",
        "last",
        "this",
        "week",
        "month",
        "q3",
        "2026",
        "2026-W47",
        "chart",
        "share",
        "region",
        "days",
        "7",
        "0",
        "99",
        "digest",
        "weekly",
        "help",
        "list",
        "november",
        "to",
        "from",
        "year",
        "ago",
        "a",
        "quarter",
        "9999-W53",
        "0001-01-01",
        "..",
        "-",
        "w0",
        "w99",
        "previous",
        "ltv",
        "'",
        "\u00a0",
    ]
)


#: Words that lead the grammar somewhere other than a metric request.
HELP_WORDS = ("help", "?", "-h", "--help")
LIST_WORDS = ("list", "metrics", "ls")
#: A quoted token in an error message, as ``repr`` writes it ('x' or "x"), not an apostrophe in a word.
QUOTED = re.compile(r"""(?<![\w])('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")(?![\w])""")


def _plain(text: str) -> str:
    """``text`` lowercased, with what separates words in the grammar (``,;&+!``, hyphens) made spaces."""
    return re.sub(r"\s+", " ", re.sub(r"[,;&+!\-\u00a0]", " ", text)).lower()


def _named_in(metric: str, text: str, vocabulary: Vocabulary) -> bool:
    """Whether ``text`` names ``metric``: its name, a word of its title, or an alias of it."""
    plain = _plain(text)
    names = [
        metric,
        *vocabulary.metrics[metric].split(),
        *(a for a, m in vocabulary.aliases.items() if m == metric),
    ]
    return any(_plain(name).strip("()") in plain for name in names if name.strip("()"))


def check_parse(text: str, vocabulary: Vocabulary, parsed) -> None:
    """The oracle of a parse of any text: ``parsed`` is what :func:`parse_command` returned or raised.

    The first word decides the kind of request (help, list, digest, else a metric request); a metric
    request holds only metrics the text names; an error is one line whose quoted tokens all come from
    the text, and an unknown metric is quoted."""
    words = [w.strip("\"'`“”‘’()[]{}") for w in re.sub(r"[,;&+!]", " ", text.replace("\u00a0", " ")).split()]
    words = [w.rstrip("?") if len(w) > 1 else w for w in words if w]
    first = words[0].lower() if words else ""
    if isinstance(parsed, CommandError):
        message = str(parsed)
        assert message and "\n" not in message, message
        for quoted in QUOTED.findall(message):
            token = ast.literal_eval(quoted)
            assert all(word in _plain(text) for word in _plain(token).split()), (text, message)
        if message.startswith("unknown metric"):
            assert QUOTED.search(message), message
        assert first not in HELP_WORDS + LIST_WORDS or len(words) > 24, (text, message)
        return
    if not words or first in HELP_WORDS:
        assert isinstance(parsed, HelpRequest), (text, parsed)
    elif first in LIST_WORDS:
        assert isinstance(parsed, ListRequest), (text, parsed)
    elif first in ("digest", "digests"):
        assert isinstance(parsed, DigestRequest) and parsed.name in vocabulary.digests, (text, parsed)
    else:
        assert isinstance(parsed, MetricRequest | FollowingRequest | FollowRequest | UnfollowRequest), (
            text,
            parsed,
        )
    if isinstance(parsed, MetricRequest):
        assert set(parsed.metrics) <= set(vocabulary.metrics)
        assert all(_named_in(metric, text, vocabulary) for metric in parsed.metrics), (text, parsed)
        assert parsed.by is None or (
            parsed.by.replace("_", "").isalnum() and parsed.by.lower() in text.lower()
        )


def parsed_or_error(text: str):
    try:
        return parse(text)
    except CommandError as error:
        return error


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=80), st.lists(WORDS, max_size=12).map(" ".join)))
def test_no_input_raises_anything_but_command_error(text):
    """Any text: a request of the kind its first word asks for, naming only metrics in the text, or a
    CommandError (nothing else is raised) that quotes only what the text holds."""
    check_parse(text, VOCABULARY, parsed_or_error(text))


@pytest.mark.parametrize(
    "text", ["0!TO!0", "nps 0 to 0", "nps from 2026-11-31 to 2026-12-05", "nps 5 until x"]
)
def test_a_range_that_does_not_read_is_quoted_as_asked(text):
    """The error of a range speaks of the words asked (``0 to 0``), never of the form made of them
    (``0..0``), and passes the grammar's oracle (found by hypothesis: '0!TO!0')."""
    error = parsed_or_error(text)
    assert isinstance(error, CommandError), error
    assert not re.search(r"'[^']*\.\.[^']*'", str(error)), str(error)  # no quoted range form
    assert str(error).count("2026-11-01..2026-11-15") == 1, str(error)  # the examples once, not twice
    check_parse(text, VOCABULARY, error)


PERIOD_PHRASES = {
    "last week": "2026-W48",
    "this month": "2026-12",
    "2026-11": "2026-11",
    "2026-Q3": "2026-Q3",
}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sampled_from(sorted(STOCK)), min_size=1, max_size=3, unique=True),
    st.sampled_from(sorted(PERIOD_PHRASES)),
    st.sampled_from(["", " by region", " chart", " share"]),
)
def test_a_well_formed_question_is_a_metric_request(metrics, period, extra):
    """What the fuzz test above allows (help, list, an error) is not what a plain question gets: a parser
    that answered every text with help would pass it, not this."""
    request = parse(f"{' '.join(metrics)} {period}{extra}")
    assert isinstance(request, MetricRequest)
    assert list(request.metrics) == metrics and request.period.label == PERIOD_PHRASES[period]
    assert request.by == ("region" if extra == " by region" else None)


@pytest.mark.parametrize(
    "text, why",
    [
        ("nps 2026-12-05 to 2026-11-01", "ends before it starts: write the earlier day first"),
        ("nps from 2026-12-05 until 2026-11-01 by region", "ends before it starts"),
        ("revenue last 400 days", "ask for 1 to 366 days"),
        ("nps q5", "try last week"),
    ],
)
def test_a_period_that_reads_but_cannot_be_is_said_as_such_not_read_shorter(text, why):
    """A reversed range is one period that cannot be, not the day ``2026-12-05`` followed by an unknown
    metric ``to``: the error says what is wrong with the words asked."""
    error = parsed_or_error(text)
    assert isinstance(error, CommandError), error
    assert why in str(error) and "unknown metric" not in str(error), str(error)
    assert str(error).count("2026-11-01..2026-11-15") == 1, str(error)  # the examples once, not twice
    check_parse(text, VOCABULARY, error)
