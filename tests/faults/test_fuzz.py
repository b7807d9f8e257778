"""Bounded fuzzing (hypothesis): kpi.toml contents, period strings, cron strings and slash-command text.
Every input ends in a result or one clear kpicore error (a KpiError with a one-line message): never
another exception, never a hang (each example has a deadline). A longer run: KPI_FUZZ_EXAMPLES=5000."""

from __future__ import annotations

import datetime as dt
import os
import tomllib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpicore.errors import KpiError

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
    else:
        assert period.start < period.end


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
    else:
        assert all(later > NOW for later in times)


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
    from kpicore.chat.grammar import Vocabulary, parse_command

    vocabulary = Vocabulary(
        {"nps": "Net Promoter Score", "revenue": "Revenue", "churn_rate": "Churn rate"}, digests=("weekly",)
    )
    try:
        parse_command(text, vocabulary, "UTC", now=NOW)
    except KpiError as error:
        one_clear_line(error)


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


@BOUNDED
@given(st.text(max_size=200))
def test_kpi_toml_text(tmp_path_factory, text):
    from kpicore.config import load_config

    path = tmp_path_factory.mktemp("fuzz", numbered=True) / "kpi.toml"
    path.write_text(text, encoding="utf-8")
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        pass
    try:
        load_config(path)
    except KpiError as error:
        one_clear_line(error)
