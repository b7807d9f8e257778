"""Periods: every expected boundary below was worked out by hand from a calendar and the tz database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpicore.errors import ConfigError, PeriodError
from kpicore.periods import ACCEPTED_FORMS, Period, get_timezone, parse_period, weeks_starting

# A Wednesday.
NOW = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)

UNKNOWN_PERIOD_HINT = (
    "use one of 2026-W47, 2026-11, 2026-Q4, 2026, 2026-11-23, 2026-11-01..2026-11-15, this-week, "
    "last-week, this-month, last-month, last-7-days, yesterday, today"
)


def hours(period: Period) -> float:
    """The real length of a period in hours (subtracting same-zone datetimes would give wall-clock time)."""
    return (period.end.timestamp() - period.start.timestamp()) / 3600


def contiguous(periods: list[Period]) -> bool:
    """True if each period ends exactly where the next one starts."""
    return all(earlier.end.timestamp() == later.start.timestamp() for earlier, later in pairwise(periods))


def span(period: Period) -> tuple[str, str]:
    return period.start_iso(), period.end_iso()


@pytest.mark.parametrize(
    ("text", "label", "kind", "start", "end"),
    [
        ("2026-W47", "2026-W47", "week", "2026-11-16T00:00:00+00:00", "2026-11-23T00:00:00+00:00"),
        ("2026-11", "2026-11", "month", "2026-11-01T00:00:00+00:00", "2026-12-01T00:00:00+00:00"),
        ("2026-Q4", "2026-Q4", "quarter", "2026-10-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"),
        ("2026", "2026", "year", "2026-01-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"),
        ("2026-11-23", "2026-11-23", "day", "2026-11-23T00:00:00+00:00", "2026-11-24T00:00:00+00:00"),
        (
            "2026-11-01..2026-11-15",
            "2026-11-01..2026-11-15",
            "range",
            "2026-11-01T00:00:00+00:00",
            "2026-11-16T00:00:00+00:00",
        ),
        ("this-week", "2026-W48", "week", "2026-11-23T00:00:00+00:00", "2026-11-25T10:30:00+00:00"),
        ("last-week", "2026-W47", "week", "2026-11-16T00:00:00+00:00", "2026-11-23T00:00:00+00:00"),
        ("this-month", "2026-11", "month", "2026-11-01T00:00:00+00:00", "2026-11-25T10:30:00+00:00"),
        ("last-month", "2026-10", "month", "2026-10-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00"),
        (
            "last-7-days",
            "2026-11-18..2026-11-24",
            "range",
            "2026-11-18T00:00:00+00:00",
            "2026-11-25T00:00:00+00:00",
        ),
        ("yesterday", "2026-11-24", "day", "2026-11-24T00:00:00+00:00", "2026-11-25T00:00:00+00:00"),
        ("today", "2026-11-25", "day", "2026-11-25T00:00:00+00:00", "2026-11-25T10:30:00+00:00"),
    ],
)
def test_each_accepted_form(text: str, label: str, kind: str, start: str, end: str) -> None:
    period = parse_period(text, "UTC", now=NOW)
    assert (period.label, period.kind, period.start_iso(), period.end_iso()) == (label, kind, start, end)
    assert period.tz == ZoneInfo("UTC")


def test_accepted_forms_lists_every_form_tested() -> None:
    assert ACCEPTED_FORMS == tuple(UNKNOWN_PERIOD_HINT.removeprefix("use one of ").split(", "))


@pytest.mark.parametrize(
    ("text", "previous_label", "start", "end"),
    [
        ("2026-W47", "2026-W46", "2026-11-09T00:00:00+00:00", "2026-11-16T00:00:00+00:00"),
        ("2026-11", "2026-10", "2026-10-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00"),
        ("2026-03", "2026-02", "2026-02-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00"),
        ("2024-03", "2024-02", "2024-02-01T00:00:00+00:00", "2024-03-01T00:00:00+00:00"),
        ("2026-01", "2025-12", "2025-12-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"),
        ("2026-Q1", "2025-Q4", "2025-10-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"),
        ("2026-Q3", "2026-Q2", "2026-04-01T00:00:00+00:00", "2026-07-01T00:00:00+00:00"),
        ("2026", "2025", "2025-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"),
        ("2026-03-01", "2026-02-28", "2026-02-28T00:00:00+00:00", "2026-03-01T00:00:00+00:00"),
        ("2024-03-01", "2024-02-29", "2024-02-29T00:00:00+00:00", "2024-03-01T00:00:00+00:00"),
        (
            "2026-11-01..2026-11-15",
            "2026-10-17..2026-10-31",
            "2026-10-17T00:00:00+00:00",
            "2026-11-01T00:00:00+00:00",
        ),
        (
            "last-7-days",
            "2026-11-11..2026-11-17",
            "2026-11-11T00:00:00+00:00",
            "2026-11-18T00:00:00+00:00",
        ),
        ("last-week", "2026-W46", "2026-11-09T00:00:00+00:00", "2026-11-16T00:00:00+00:00"),
        ("last-month", "2026-09", "2026-09-01T00:00:00+00:00", "2026-10-01T00:00:00+00:00"),
        ("yesterday", "2026-11-23", "2026-11-23T00:00:00+00:00", "2026-11-24T00:00:00+00:00"),
    ],
)
def test_previous_moves_by_whole_units(text: str, previous_label: str, start: str, end: str) -> None:
    previous = parse_period(text, "UTC", now=NOW).previous()
    assert (previous.label, previous.start_iso(), previous.end_iso()) == (previous_label, start, end)


def test_previous_month_lengths_differ() -> None:
    assert hours(parse_period("2026-03").previous()) == 28 * 24
    assert hours(parse_period("2024-03").previous()) == 29 * 24
    assert hours(parse_period("2026-08").previous()) == 31 * 24


@pytest.mark.parametrize(
    ("text", "previous_label", "start", "end"),
    [
        # Wednesday 10:30 minus Monday 00:00 is 2 days 10:30 of wall-clock time.
        ("this-week", "2026-W47", "2026-11-16T00:00:00+00:00", "2026-11-18T10:30:00+00:00"),
        ("this-month", "2026-10", "2026-10-01T00:00:00+00:00", "2026-10-25T10:30:00+00:00"),
        ("today", "2026-11-24", "2026-11-24T00:00:00+00:00", "2026-11-24T10:30:00+00:00"),
    ],
)
def test_to_date_period_compares_with_same_elapsed_span(
    text: str, previous_label: str, start: str, end: str
) -> None:
    period = parse_period(text, "UTC", now=NOW)
    previous = period.previous()
    assert (previous.label, previous.kind, previous.start_iso(), previous.end_iso()) == (
        previous_label,
        period.kind,
        start,
        end,
    )
    assert previous.elapsed == period.elapsed


def test_to_date_elapsed_span_is_wall_clock_across_dst() -> None:
    # Sunday 2026-11-01 12:00 in Berlin: 6 days 12 hours into W44. W43 gains an hour on 2026-10-25 at 03:00,
    # yet its comparable span still ends at 12:00 local on its Sunday.
    now = datetime(2026, 11, 1, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    this_week = parse_period("this-week", "Europe/Berlin", now=now)
    assert span(this_week) == ("2026-10-26T00:00:00+01:00", "2026-11-01T12:00:00+01:00")
    assert span(this_week.previous()) == ("2026-10-19T00:00:00+02:00", "2026-10-25T12:00:00+01:00")


def test_this_month_span_is_cut_at_the_end_of_a_shorter_month() -> None:
    now = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    previous = parse_period("this-month", "UTC", now=now).previous()
    assert (previous.label, *span(previous)) == (
        "2026-02",
        "2026-02-01T00:00:00+00:00",
        "2026-03-01T00:00:00+00:00",
    )


def test_to_date_end_is_truncated_to_whole_seconds() -> None:
    now = datetime(2026, 11, 25, 10, 30, 15, 999_999, tzinfo=UTC)
    assert parse_period("today", "UTC", now=now).end_iso() == "2026-11-25T10:30:15+00:00"


def test_whole_periods_have_no_elapsed_span() -> None:
    assert parse_period("last-week", "UTC", now=NOW).elapsed is None
    assert parse_period("2026-W47").elapsed is None


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2026-W01", "2025-12-29T00:00:00+00:00", "2026-01-05T00:00:00+00:00"),
        ("2020-W53", "2020-12-28T00:00:00+00:00", "2021-01-04T00:00:00+00:00"),
        # 2026 begins on a Thursday, so it has 53 ISO weeks.
        ("2026-W53", "2026-12-28T00:00:00+00:00", "2027-01-04T00:00:00+00:00"),
        ("2027-W01", "2027-01-04T00:00:00+00:00", "2027-01-11T00:00:00+00:00"),
        ("2025-W52", "2025-12-22T00:00:00+00:00", "2025-12-29T00:00:00+00:00"),
    ],
)
def test_iso_week_year_edges(text: str, start: str, end: str) -> None:
    assert span(parse_period(text)) == (start, end)


def test_previous_week_crosses_the_week_year() -> None:
    assert parse_period("2026-W01").previous().label == "2025-W52"
    assert parse_period("2027-W01").previous().label == "2026-W53"
    assert parse_period("2021-W01").previous().label == "2020-W53"


@pytest.mark.parametrize(
    ("now", "label", "start"),
    [
        (datetime(2026, 1, 1, 12, 0, tzinfo=UTC), "2025-W52", "2025-12-22T00:00:00+00:00"),
        (datetime(2021, 1, 6, 12, 0, tzinfo=UTC), "2020-W53", "2020-12-28T00:00:00+00:00"),
    ],
)
def test_last_week_at_the_turn_of_the_year(now: datetime, label: str, start: str) -> None:
    last_week = parse_period("last-week", "UTC", now=now)
    assert (last_week.label, last_week.start_iso()) == (label, start)


def test_leap_years() -> None:
    assert parse_period("2024-02-29").end_iso() == "2024-03-01T00:00:00+00:00"
    assert parse_period("2000-02-29").label == "2000-02-29"
    assert hours(parse_period("2024")) == 366 * 24
    assert hours(parse_period("2026")) == 365 * 24


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2026-Q1", "2026-01-01T00:00:00+00:00", "2026-04-01T00:00:00+00:00"),
        ("2026-Q2", "2026-04-01T00:00:00+00:00", "2026-07-01T00:00:00+00:00"),
        ("2026-Q3", "2026-07-01T00:00:00+00:00", "2026-10-01T00:00:00+00:00"),
        ("2026-Q4", "2026-10-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"),
    ],
)
def test_quarters(text: str, start: str, end: str) -> None:
    assert span(parse_period(text)) == (start, end)


def test_quarter_trend_crosses_years() -> None:
    assert [quarter.label for quarter in parse_period("2026-Q2").trend(4)] == [
        "2025-Q3",
        "2025-Q4",
        "2026-Q1",
        "2026-Q2",
    ]


@pytest.mark.parametrize(
    ("text", "start", "end", "length_in_hours"),
    [
        # Summer time starts 2026-03-29 at 02:00 and ends 2026-10-25 at 03:00.
        ("2026-W13", "2026-03-23T00:00:00+01:00", "2026-03-30T00:00:00+02:00", 167),
        ("2026-W43", "2026-10-19T00:00:00+02:00", "2026-10-26T00:00:00+01:00", 169),
        ("2026-W47", "2026-11-16T00:00:00+01:00", "2026-11-23T00:00:00+01:00", 168),
        ("2026-03-29", "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", 23),
        ("2026-10-25", "2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00", 25),
        ("2026-03", "2026-03-01T00:00:00+01:00", "2026-04-01T00:00:00+02:00", 31 * 24 - 1),
    ],
)
def test_dst_in_berlin(text: str, start: str, end: str, length_in_hours: int) -> None:
    period = parse_period(text, "Europe/Berlin")
    assert span(period) == (start, end)
    assert hours(period) == length_in_hours


@pytest.mark.parametrize(
    ("zone", "text", "start", "end", "length_in_hours"),
    [
        # Santiago skips from 2026-09-06 00:00 to 01:00: the day begins at 01:00.
        ("America/Santiago", "2026-09-06", "2026-09-06T01:00:00-03:00", "2026-09-07T00:00:00-03:00", 23),
        ("America/Santiago", "2026-09-05", "2026-09-05T00:00:00-04:00", "2026-09-06T01:00:00-03:00", 24),
        ("America/Santiago", "2026-W36", "2026-08-31T00:00:00-04:00", "2026-09-07T00:00:00-03:00", 167),
        # Beirut skips from 2026-03-29 00:00 to 01:00.
        ("Asia/Beirut", "2026-03-29", "2026-03-29T01:00:00+03:00", "2026-03-30T00:00:00+03:00", 23),
    ],
)
def test_midnight_in_a_dst_gap_becomes_the_first_instant_after_it(
    zone: str, text: str, start: str, end: str, length_in_hours: int
) -> None:
    period = parse_period(text, zone)
    assert span(period) == (start, end)
    assert hours(period) == length_in_hours


def test_days_around_a_skipped_midnight_are_contiguous() -> None:
    days = parse_period("2026-09-08", "America/Santiago").trend(5)
    assert [day.label for day in days] == [
        "2026-09-04",
        "2026-09-05",
        "2026-09-06",
        "2026-09-07",
        "2026-09-08",
    ]
    assert contiguous(days)


def test_the_business_timezone_decides_which_week_is_last() -> None:
    # Sunday 20:00 UTC is already Monday 05:00 in Tokyo but still Sunday 12:00 in Los Angeles.
    now = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
    tokyo = parse_period("last-week", "Asia/Tokyo", now=now)
    los_angeles = parse_period("last-week", "America/Los_Angeles", now=now)
    assert (tokyo.label, tokyo.start_iso()) == ("2026-W47", "2026-11-16T00:00:00+09:00")
    assert (los_angeles.label, los_angeles.start_iso()) == ("2026-W46", "2026-11-09T00:00:00-08:00")


def test_aware_now_is_converted_and_naive_now_is_business_time() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    aware = parse_period("today", tokyo, now=datetime(2026, 11, 25, 23, 30, tzinfo=UTC))
    naive = parse_period("today", tokyo, now=datetime(2026, 11, 25, 23, 30))
    assert span(aware) == ("2026-11-26T00:00:00+09:00", "2026-11-26T08:30:00+09:00")
    assert span(naive) == ("2026-11-25T00:00:00+09:00", "2026-11-25T23:30:00+09:00")


def test_now_defaults_to_the_current_time() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    today = parse_period("today")
    assert before <= today.end <= datetime.now(UTC)
    assert today.start.date() == today.end.date()


def test_forms_ignore_case_and_surrounding_spaces() -> None:
    assert parse_period(" 2026-w47 ").label == "2026-W47"
    assert parse_period("2026-q4").label == "2026-Q4"
    assert parse_period("Last-Week", now=NOW).label == "2026-W47"


def test_week_trend_is_twelve_consecutive_weeks_oldest_first() -> None:
    weeks = parse_period("2026-W47", "Europe/Berlin").trend(12)
    assert [week.label for week in weeks] == [f"2026-W{number}" for number in range(36, 48)]
    assert weeks[0].start_iso() == "2026-08-31T00:00:00+02:00"
    assert weeks[-1] == parse_period("2026-W47", "Europe/Berlin")
    assert contiguous(weeks)
    assert sorted(hours(week) for week in weeks) == [168] * 11 + [169]


def test_month_trend_is_twelve_consecutive_months_oldest_first() -> None:
    months = parse_period("2026-11", "Europe/Berlin").trend(12)
    assert [month.label for month in months] == ["2025-12"] + [
        f"2026-{number:02d}" for number in range(1, 12)
    ]
    assert contiguous(months)
    assert months[0].start_iso() == "2025-12-01T00:00:00+01:00"


def test_trend_of_a_to_date_period_repeats_the_elapsed_span() -> None:
    weeks = parse_period("this-week", "UTC", now=NOW).trend(3)
    assert [span(week) for week in weeks] == [
        ("2026-11-09T00:00:00+00:00", "2026-11-11T10:30:00+00:00"),
        ("2026-11-16T00:00:00+00:00", "2026-11-18T10:30:00+00:00"),
        ("2026-11-23T00:00:00+00:00", "2026-11-25T10:30:00+00:00"),
    ]


def test_trend_of_one_is_the_period_itself() -> None:
    period = parse_period("2026-11")
    assert period.trend(1) == [period]


def test_shifted() -> None:
    month = parse_period("2026-11")
    assert month.shifted(0) is month
    assert month.shifted(1) == month.previous()
    assert month.shifted(12).label == "2025-11"
    assert month.shifted(-2).label == "2027-01"
    assert parse_period("2026-11-01..2026-11-15").shifted(2).label == "2026-10-02..2026-10-16"


@pytest.mark.parametrize(
    "text",
    ["xyz", "", "next-week", "2026-W5", "2026-W470", "2026/11", "26-11", "2026-11..2026-12", "2026-11-01.."],
)
def test_unknown_period_lists_the_accepted_forms(text: str) -> None:
    with pytest.raises(PeriodError) as raised:
        parse_period(text, now=NOW)
    assert str(raised.value) == f"unknown period {text!r}: {UNKNOWN_PERIOD_HINT}"


def test_unknown_period_message_is_exact() -> None:
    with pytest.raises(PeriodError, match=r"^unknown period 'xyz': use one of 2026-W47, 2026-11, .*, today$"):
        parse_period("xyz")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2025-W53", "no week 2025-W53: ISO year 2025 has weeks W01 to W52"),
        ("2026-W54", "no week 2026-W54: ISO year 2026 has weeks W01 to W53"),
        ("2026-W00", "no week 2026-W00: ISO year 2026 has weeks W01 to W53"),
        ("2026-13", "no month 2026-13: months run 01 to 12"),
        ("2026-00", "no month 2026-00: months run 01 to 12"),
        ("2026-Q5", "no quarter 2026-Q5: quarters run Q1 to Q4"),
        ("2026-Q0", "no quarter 2026-Q0: quarters run Q1 to Q4"),
        ("2026-02-30", "no day 2026-02-30: 2026-02 has days 01 to 28"),
        ("2026-02-29", "no day 2026-02-29: 2026-02 has days 01 to 28"),
        ("2100-02-29", "no day 2100-02-29: 2100-02 has days 01 to 28"),
        ("2026-04-31", "no day 2026-04-31: 2026-04 has days 01 to 30"),
        ("2026-11-00", "no day 2026-11-00: 2026-11 has days 01 to 30"),
        ("2026-13-01", "no day 2026-13-01: months run 01 to 12"),
        ("2026-11-01..2026-11-31", "no day 2026-11-31: 2026-11 has days 01 to 30"),
        (
            "2026-11-15..2026-11-01",
            "range 2026-11-15..2026-11-01 ends before it starts: write the earlier day first",
        ),
        ("0999", "year 0999 is out of range: use a year from 1000 to 9998"),
        ("9999-12", "month 9999-12 is out of range: use a year from 1000 to 9998"),
    ],
)
def test_invalid_dates_get_a_specific_one_line_message(text: str, message: str) -> None:
    with pytest.raises(PeriodError) as raised:
        parse_period(text)
    assert str(raised.value) == message


def test_shifting_out_of_the_supported_years_is_a_period_error() -> None:
    with pytest.raises(PeriodError) as raised:
        parse_period("1000-01").previous()
    assert str(raised.value) == "1000-01 shifted back by 1 is out of range: use a year from 1000 to 9998"


def test_trend_needs_at_least_one_period() -> None:
    with pytest.raises(PeriodError, match=r"^a trend needs at least 1 period, got 0$"):
        parse_period("2026-11").trend(0)


def test_get_timezone() -> None:
    assert get_timezone("Europe/Berlin") == ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Europe/Berln", "unknown timezone 'Europe/Berln' (did you mean Europe/Berlin?)"),
        ("europe/berlin", "unknown timezone 'europe/berlin' (did you mean Europe/Berlin?)"),
        ("Asia/Tomskk", "unknown timezone 'Asia/Tomskk' (did you mean Asia/Tomsk or Asia/Omsk?)"),
        (
            "Mars/Olympus",
            "unknown timezone 'Mars/Olympus' (use an IANA name such as UTC, Europe/Berlin or America/New_York)",
        ),
        (
            "Europe",
            "unknown timezone 'Europe' (use an IANA name such as UTC, Europe/Berlin or America/New_York)",
        ),
        ("", "unknown timezone '' (use an IANA name such as UTC, Europe/Berlin or America/New_York)"),
    ],
)
def test_unknown_timezone_suggests_close_names(name: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        get_timezone(name)
    assert str(raised.value) == message
    assert not isinstance(raised.value, PeriodError)


def test_parse_period_reports_an_unknown_timezone() -> None:
    with pytest.raises(
        ConfigError, match=r"^unknown timezone 'Europe/Berln' \(did you mean Europe/Berlin\?\)$"
    ):
        parse_period("2026-W47", "Europe/Berln")


def test_period_boundaries_must_be_zoneinfo_aware() -> None:
    with pytest.raises(TypeError):
        Period("2026-11-23", datetime(2026, 11, 23), datetime(2026, 11, 24), "day")


ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "America/Santiago",
    "Asia/Beirut",
    "Australia/Lord_Howe",
]


def starts_a_local_day(instant: datetime) -> bool:
    """True if ``instant`` is the first instant of its local day (midnight, or the end of a gap over it)."""
    just_before = (instant.astimezone(UTC) - timedelta(seconds=1)).astimezone(instant.tzinfo)
    return just_before.date() == instant.date() - timedelta(days=1)


@given(
    now=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
    ),
    zone=st.sampled_from(ZONES),
    form=st.sampled_from(["last-week", "last-month", "yesterday", "last-7-days", "this-week"]),
    count=st.integers(min_value=1, max_value=60),
)
def test_trend_periods_are_contiguous_and_start_at_local_midnight(
    now: datetime, zone: str, form: str, count: int
) -> None:
    periods = parse_period(form, zone, now=now).trend(count)
    assert len(periods) == count
    assert periods[-1] == parse_period(form, zone, now=now)
    for period in periods:
        assert starts_a_local_day(period.start)
        assert period.start.timestamp() <= period.end.timestamp()
        if period.kind == "week":
            assert period.start.weekday() == 0
    for earlier, later in pairwise(periods):
        assert earlier.end.timestamp() <= later.start.timestamp()
    if form != "this-week":
        assert contiguous(periods)


# -- week_start ---------------------------------------------------------------------------------------
TEHRAN_WEDNESDAY = datetime(2026, 11, 25, 10, 0)  # naive: in the business timezone


def test_saturday_weeks_in_tehran():
    last = parse_period("last-week", "Asia/Tehran", now=TEHRAN_WEDNESDAY, week_start="saturday")
    assert (last.start.isoformat(), last.end.isoformat()) == (
        "2026-11-14T00:00:00+03:30",
        "2026-11-21T00:00:00+03:30",
    )
    assert last.kind == "week" and last.label == "2026-11-14..2026-11-20"
    this = parse_period("this-week", "Asia/Tehran", now=TEHRAN_WEDNESDAY, week_start="saturday")
    assert (
        this.start.isoformat() == "2026-11-21T00:00:00+03:30"
        and this.end.isoformat() == "2026-11-25T10:00:00+03:30"
    )
    assert last.previous().label == "2026-11-07..2026-11-13"
    assert [p.label for p in last.trend(2)] == ["2026-11-07..2026-11-13", "2026-11-14..2026-11-20"]
    reread = parse_period(last.label, "Asia/Tehran")  # every label reads back to the same days
    assert (reread.start, reread.end) == (last.start, last.end)
    # On the Saturday itself the week before is the one that just ended; ISO weeks keep their meaning.
    saturday = parse_period(
        "last-week", "Asia/Tehran", now=datetime(2026, 11, 21, 0, 0), week_start="saturday"
    )
    assert saturday.label == "2026-11-14..2026-11-20"
    friday = parse_period(
        "last-week", "Asia/Tehran", now=datetime(2026, 11, 20, 23, 59), week_start="saturday"
    )
    assert friday.label == "2026-11-07..2026-11-13"
    iso = parse_period("2026-W47", "Asia/Tehran", week_start="saturday")
    assert iso.start.date().isoformat() == "2026-11-16" and iso.label == "2026-W47"


def test_sunday_weeks_and_the_monday_default():
    sunday = parse_period("last-week", "UTC", now=datetime(2026, 11, 25), week_start="sunday")
    assert sunday.label == "2026-11-15..2026-11-21"
    assert parse_period("last-week", "UTC", now=datetime(2026, 11, 25)).label == "2026-W47"
    assert (
        parse_period("last-week", "UTC", now=datetime(2026, 11, 25), week_start="monday").label == "2026-W47"
    )
    with weeks_starting("saturday"):  # what digests, /kpi and kpi compute enter from kpi.toml
        assert parse_period("last-week", "UTC", now=datetime(2026, 11, 25)).label == "2026-11-14..2026-11-20"
    assert parse_period("last-week", "UTC", now=datetime(2026, 11, 25)).label == "2026-W47"


@pytest.mark.parametrize("bad", ["satday", "Samstag", 6, ""])
def test_a_bad_week_start_names_the_key(tmp_path, bad):
    from kpicore.config import load_config

    (tmp_path / "kpi.toml").write_text(f"week_start = {bad!r}\n".replace("'", '"'), encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path / "kpi.toml")
    message = str(raised.value)
    assert "week_start" in message and "is not a weekday name" in message and "\n" not in message
    if bad == "satday":
        assert "(did you mean 'saturday'?)" in message
