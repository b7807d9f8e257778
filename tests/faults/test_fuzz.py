"""Bounded fuzzing (hypothesis): kpi.toml contents, period strings, cron strings and slash-command text.
Every input ends in a result or one clear kpicore error (a KpiError with a one-line message that names
what it refused: the text, the field, the key or the place in the file), never another exception, never
a hang (each example has a deadline). Well-formed inputs built from parts must give back those parts:
a period its start and end, a cron schedule its next fires, a kpi.toml its values, a slash command its
request. A longer run: KPI_FUZZ_EXAMPLES=5000."""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpicore.errors import KpiError
from tests.test_chat_grammar import check_parse

EXAMPLES = int(os.environ.get("KPI_FUZZ_EXAMPLES", "300"))
BOUNDED = settings(
    max_examples=EXAMPLES,
    deadline=dt.timedelta(seconds=2),
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
NOW = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)


def one_clear_line(error: KpiError) -> None:
    text = str(error)
    assert text and "\n" not in text.strip() and "Traceback" not in text, text


PERIOD_WORDS = st.sampled_from(
    [
        "last-week",
        "this-month",
        "2026-W47",
        "2026-11",
        "2026-Q4",
        "2026",
        "2026-11-01..2026-11-30",
        "2026-W53",
        "2026-13",
        "0000-W01",
        "9999-12",
        "last-",
        "..",
        "2026-02-30",
        "-1",
        "W47",
        "2026-Q0",
        "mtd",
        "ytd",
    ]
)


@BOUNDED
@given(
    st.one_of(
        st.text(max_size=40),
        PERIOD_WORDS,
        st.builds(lambda a, b: f"{a}{b}", PERIOD_WORDS, st.text(max_size=6)),
    )
)
def test_period_strings(text):
    from kpicore.periods import parse_period

    try:
        period = parse_period(text, "Europe/Berlin", now=NOW)
    except KpiError as error:
        one_clear_line(error)
        assert text.strip() in str(error) or repr(text) in str(error), (text, str(error))
    else:
        assert period.start < period.end


BERLIN = ZoneInfo("Europe/Berlin")


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=BERLIN)


@st.composite
def well_formed_periods(draw) -> tuple[str, dt.date, dt.date]:
    """(label, first day, day after the last) of a week, month, quarter, year, day or range."""
    year = draw(st.integers(1990, 2090))
    kind = draw(st.sampled_from(["week", "month", "quarter", "year", "day", "range"]))
    if kind == "week":
        weeks = dt.date(year, 12, 28).isocalendar().week
        week = draw(st.integers(1, weeks))
        first = dt.date.fromisocalendar(year, week, 1)
        return f"{year}-W{week:02d}", first, first + dt.timedelta(days=7)
    if kind == "month":
        month = draw(st.integers(1, 12))
        after = dt.date(year + month // 12, month % 12 + 1, 1)
        return f"{year}-{month:02d}", dt.date(year, month, 1), after
    if kind == "quarter":
        quarter = draw(st.integers(1, 4))
        after = dt.date(year + 1, 1, 1) if quarter == 4 else dt.date(year, 3 * quarter + 1, 1)
        return f"{year}-Q{quarter}", dt.date(year, 3 * quarter - 2, 1), after
    if kind == "year":
        return str(year), dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    first = dt.date(year, 1, 1) + dt.timedelta(days=draw(st.integers(0, 364)))
    if kind == "day":
        return first.isoformat(), first, first + dt.timedelta(days=1)
    last = first + dt.timedelta(days=draw(st.integers(0, 300)))
    return f"{first.isoformat()}..{last.isoformat()}", first, last + dt.timedelta(days=1)


@BOUNDED
@given(well_formed_periods())
def test_a_well_formed_period_is_the_span_it_names(built):
    from kpicore.periods import parse_period

    label, first, after = built
    period = parse_period(label, "Europe/Berlin", now=NOW)
    assert (period.start, period.end) == (_midnight(first), _midnight(after)), label


CRON_FIELD = st.one_of(
    st.sampled_from(
        [
            "*",
            "*/5",
            "0",
            "7",
            "1-5",
            "MON",
            "mon-fri",
            "0,30",
            "60",
            "-1",
            "*/0",
            "32",
            "13",
            "SUN-SAT",
            "L",
            "?",
            "5/2",
            "1-",
            "",
        ]
    ),
    st.text(alphabet="0123456789*/,-", max_size=5),
)


@BOUNDED
@given(st.one_of(st.lists(CRON_FIELD, min_size=0, max_size=7).map(" ".join), st.text(max_size=30)))
def test_cron_strings(expression):
    from kpicore.digest.config import check_cron
    from kpicore.scheduler import CronSchedule, check_can_fire, fire_times

    try:
        check_cron(expression, "[digests.fuzz].schedule")  # what kpi.toml loading runs, in its order
        check_can_fire(expression, "[digests.fuzz].schedule")
        times = fire_times(CronSchedule(expression, "Europe/Berlin"), NOW, 2)
    except KpiError as error:
        one_clear_line(error)
        assert str(error).startswith("[digests.fuzz].schedule: ") and repr(expression) in str(error)
    else:
        assert all(later > NOW for later in times)


DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


@BOUNDED
@given(st.integers(0, 59), st.integers(0, 23), st.one_of(st.none(), st.integers(0, 6)))
def test_a_well_formed_cron_fires_at_the_minute_hour_and_day_it_names(minute, hour, weekday):
    """Late November in Berlin has no clock change, so the next fires are plain local times."""
    from kpicore.scheduler import CronSchedule, fire_times

    expression = f"{minute} {hour} * * {'*' if weekday is None else DAYS[weekday]}"
    today = NOW.astimezone(BERLIN).date()
    candidates = (
        dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)
        for day in (today + dt.timedelta(days=k) for k in range(15))
        if weekday is None or day.weekday() == weekday
    )
    expected = [moment for moment in candidates if moment > NOW][:2]
    assert fire_times(CronSchedule(expression, "Europe/Berlin"), NOW, 2) == expected, expression


@BOUNDED
@given(
    st.one_of(
        st.text(max_size=120),
        st.lists(
            st.sampled_from(
                [
                    "nps",
                    "revenue",
                    "by",
                    "region",
                    "last-week",
                    "2026-W47",
                    "vs",
                    "digest",
                    "weekly",
                    "'",
                    '"',
                    ";",
                    "--",
                    "DROP",
                    "TABLE",
                    "<!channel>",
                    "*",
                    "help",
                    "churn",
                    "rate",
                    "\u202e",
                    "\x00",
                    "by by",
                    "top",
                    "10",
                ]
            ),
            max_size=12,
        ).map(" ".join),
    )
)
def test_slash_text(text):
    from kpicore.chat.grammar import CommandError, Vocabulary, parse_command

    vocabulary = Vocabulary(
        {"nps": "Net Promoter Score", "revenue": "Revenue", "churn_rate": "Churn rate"}, digests=("weekly",)
    )
    try:
        parsed = parse_command(text, vocabulary, "UTC", now=NOW)
    except CommandError as error:
        parsed = error
    check_parse(text, vocabulary, parsed)


@BOUNDED
@given(
    st.lists(st.sampled_from(["nps", "revenue", "churn_rate"]), min_size=1, max_size=3, unique=True),
    st.sampled_from(["", "2026-W47", "last-week", "2026-11", "2026-11-01..2026-11-15"]),
    st.sampled_from(["", "region", "plan"]),
    st.sampled_from(["", "2026-W46", "last year"]),
    st.booleans(),
    st.booleans(),
)
def test_a_slash_command_built_from_parts_is_the_request_of_those_parts(
    metrics, period, by, vs, chart, share
):
    from kpicore.chat.grammar import MetricRequest, Vocabulary, parse_command
    from kpicore.periods import parse_period

    vocabulary = Vocabulary({"nps": "Net Promoter Score", "revenue": "Revenue", "churn_rate": "Churn rate"})
    parts = [" ".join(metrics), period, f"by {by}" if by else "", f"vs {vs}" if vs else ""]
    parts += ["chart"] * chart + ["share"] * share
    text = " ".join(part for part in parts if part)
    request = parse_command(text, vocabulary, "UTC", now=NOW)
    assert isinstance(request, MetricRequest), text
    assert list(request.metrics) == metrics and request.by == (by or None), text
    assert request.period == parse_period(period or "last-week", "UTC", now=NOW), text
    assert (request.chart, request.share) == (chart, share), text
    assert request.year_over_year == (vs == "last year"), text
    if vs == "2026-W46":
        assert request.vs == parse_period("2026-W46", "UTC", now=NOW), text


TOML_VALUES = st.recursive(
    st.one_of(
        st.integers(-10, 10**12),
        st.text(max_size=20),
        st.booleans(),
        st.floats(allow_nan=False),
        st.sampled_from(
            [
                "postgresql://u:p@127.0.0.1:1/x",
                "sqlite:///x.db",
                "last-week",
                "0 9 * * MON",
                "Europe/Berlin",
                "Mars/Olympus",
                "slack:#kpis",
                "email:a@x",
                "${NOPE}",
                "1h",
            ]
        ),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
KEYS = st.sampled_from(
    [
        "state_url",
        "timezone",
        "source",
        "digests",
        "serve",
        "slack",
        "email",
        "chat",
        "targets",
        "entities",
        "currency",
        "locale",
        "nope",
    ]
)


@BOUNDED
@given(st.dictionaries(KEYS, TOML_VALUES, max_size=5))
def test_kpi_toml_contents(tmp_path_factory, raw):
    from kpicore.config import parse_config

    folder = tmp_path_factory.mktemp("fuzz", numbered=True)
    try:
        parse_config(raw, folder / "kpi.toml")
    except KpiError as error:
        one_clear_line(error)
        assert names_a_key(str(error), raw), (raw, str(error))


def names_a_key(message: str, raw: dict) -> bool:
    """Whether an error about ``raw`` names one of its keys (``timezone:``, ``[source]``, ``'nope'``)."""
    return any(key in message for key in raw if key)


@BOUNDED
@given(
    st.sampled_from(["UTC", "Europe/Berlin", "Asia/Tehran", "Asia/Kolkata", "Africa/Lagos"]),
    st.sampled_from(["USD", "EUR", "IRR", "INR", "NGN", "BDT"]),
    st.sampled_from(["en", "en_GB", "fa_IR", "bn_BD", "ml_IN", "ig_NG", "de_DE"]),
    st.sampled_from(["sqlite:///state.db", "postgresql://u@127.0.0.1:1/x"]),
)
def test_a_well_formed_kpi_toml_gives_back_its_values(
    tmp_path_factory, timezone, currency, locale, state_url
):
    from kpicore.config import parse_config

    folder = tmp_path_factory.mktemp("fuzz", numbered=True)
    raw = {"timezone": timezone, "currency": currency, "locale": locale, "state_url": state_url}
    config = parse_config(raw, folder / "kpi.toml")
    assert (config.timezone, config.currency, config.locale, config.state_url) == tuple(raw.values())


@BOUNDED
@given(st.text(max_size=200))
def test_kpi_toml_text(tmp_path_factory, text):
    from kpicore.config import load_config

    path = tmp_path_factory.mktemp("fuzz", numbered=True) / "kpi.toml"
    path.write_text(text, encoding="utf-8")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))  # as kpi reads it (text mode)
    except tomllib.TOMLDecodeError as syntax:
        raw, where = None, f"{path}: {syntax}"  # the file and the place in it
    try:
        load_config(path)
    except KpiError as error:
        one_clear_line(error)
        assert str(error) == where if raw is None else names_a_key(str(error), raw), (text, str(error))
    else:
        assert raw is not None, text
