"""Hand-computed cases for the restaurant metrics, over rows declared inline (period 2026-W47, UTC).

2026-W47 is Monday 2026-11-16 00:00 to Monday 2026-11-23 00:00.
"""

import kpicore_restaurant
import pytest

from kpicore.config import Config

TABLES = [{"table_id": 1, "seats": 4}, {"table_id": 2, "seats": 4}]


def session(session_id, seated_at, left_at, party_size=2, check_amount=40.0, table_id=1):
    return {
        "session_id": session_id,
        "table_id": table_id,
        "seated_at": seated_at,
        "left_at": left_at,
        "party_size": party_size,
        "check_amount": check_amount,
    }


SESSIONS = [
    session(1, "2026-11-16 12:00:00", "2026-11-16 13:00:00", 2, 50.0),
    # seated on the last evening of the week, leaves after its end
    session(2, "2026-11-22 23:30:00", "2026-11-23 00:30:00", 4, 100.0),
    # seated the evening before the week, leaves inside it
    session(3, "2026-11-15 23:00:00", "2026-11-16 01:00:00", 3, 90.0),
    # still seated: no left_at, no final check
    session(4, "2026-11-18 19:00:00", None, 5, None),
    # party of 0: invalid for the metrics that read party_size
    session(5, "2026-11-17 12:00:00", "2026-11-17 12:45:00", 0, 10.0),
    # left before being seated: a clock error
    session(6, "2026-11-19 20:00:00", "2026-11-19 19:00:00", 2, 30.0),
    # finished, but no check recorded
    session(7, "2026-11-20 12:00:00", "2026-11-20 13:00:00", 2, None),
]


@pytest.fixture
def kpi(kpi):
    kpi.register(kpicore_restaurant)
    return kpi


def warnings_of(result):
    return {w.message: w.count for w in result.warnings}


def test_covers_counts_open_sessions_and_warns_invalid_parties(kpi):
    result = kpi.compute("covers", "2026-W47", tables=TABLES, table_sessions=SESSIONS)
    # seated in the week with valid parties: 1, 2, 4 (open), 6 (covers does not read left_at), 7
    assert result.value == 2 + 4 + 5 + 2 + 2
    assert result.n == 5
    assert list(warnings_of(result).values()) == [1]


def test_table_turnover_time_is_over_sessions_that_left_in_the_period(kpi):
    result = kpi.compute("table_turnover_time", "2026-W47", tables=TABLES, table_sessions=SESSIONS)
    # left in the week: 1 (60 min), 3 (120 min, seated the week before), 5 (45 min), 7 (60 min)
    assert result.value == pytest.approx((60 + 120 + 45 + 60) / 4)
    assert result.n == 4
    assert sorted(warnings_of(result).values()) == [1, 1]  # session 6 left before seated; session 4 is open


def test_average_check_over_finished_priced_sessions(kpi):
    result = kpi.compute("average_check", "2026-W47", tables=TABLES, table_sessions=SESSIONS)
    # sessions 1 and 2: (50 + 100) / (2 + 4); 3 was seated the week before
    assert result.value == pytest.approx(25.0)
    assert result.n == 2
    messages = warnings_of(result)
    assert len(messages) == 4 and set(messages.values()) == {1}  # party 0, open, backwards, no check


def test_table_turn_rate_counts_seatings_per_table_per_day(kpi):
    result = kpi.compute("table_turn_rate", "2026-W47", tables=TABLES, table_sessions=SESSIONS)
    # seated in the week and not backwards: 1, 2, 4, 5, 7 -> 5 / 2 tables / 7 days
    assert result.value == pytest.approx(5 / 2 / 7)
    assert result.n == 5
    assert list(warnings_of(result).values()) == [1]


def test_table_turn_rate_days_of_a_month(kpi):
    result = kpi.compute("table_turn_rate", "2026-11", tables=TABLES, table_sessions=SESSIONS)
    # seated in November: 1, 2, 3, 4, 5, 7
    assert result.value == pytest.approx(6 / 2 / 30)


def test_zero_tables_gives_null(kpi):
    result = kpi.compute("table_turn_rate", "2026-W47", tables=[], table_sessions=SESSIONS)
    assert result.value is None


OPENING_HOURS = {"mon": ["12:00-14:00", "18:00-22:00"], "sun": ["20:00-02:00"]}


def occupancy_config(hours=OPENING_HOURS, timezone="UTC"):
    return Config(timezone=timezone, packs={"restaurant": {"opening_hours": hours}})


OCCUPANCY_SESSIONS = [
    # Sunday-night opening before the week: only 00:00-01:00 on Monday is inside both -> 60 min x 2
    session(1, "2026-11-15 23:00:00", "2026-11-16 01:00:00", 2),
    # spans the afternoon closing: 13:30-14:00 and 18:00-18:30 -> 60 min x 3
    session(2, "2026-11-16 13:30:00", "2026-11-16 18:30:00", 3),
    # last Sunday evening, leaves after the week ends: 21:00-24:00 -> 180 min x 4
    session(3, "2026-11-22 21:00:00", "2026-11-23 01:00:00", 4),
    # a Tuesday lunch while closed: 0 minutes
    session(4, "2026-11-17 12:00:00", "2026-11-17 13:00:00", 2),
    session(5, "2026-11-17 19:00:00", None, 2),  # still open: warned
    session(6, "2026-11-16 13:00:00", "2026-11-16 12:00:00", 2),  # left before seated: warned
]


def test_seat_occupancy_cuts_sessions_at_opening_hours_and_period(kpi):
    result = kpi.compute(
        "seat_occupancy",
        "2026-W47",
        tables=TABLES,
        table_sessions=OCCUPANCY_SESSIONS,
        config=occupancy_config(),
    )
    # open: Mon 00:00-02:00 (Sunday's late opening) + 12-14 + 18-22, Sun 20:00-24:00 = 12 h = 720 min
    seat_minutes = 60 * 2 + 60 * 3 + 180 * 4
    assert result.value == pytest.approx(100 * seat_minutes / (8 * 720))
    assert result.n == 4
    assert sorted(warnings_of(result).values()) == [1, 1]


def test_seat_occupancy_on_every_backend(kpi_all_backends):
    kpi_all_backends.register(kpicore_restaurant)
    result = kpi_all_backends.compute(
        "seat_occupancy",
        "2026-W47",
        tables=TABLES,
        table_sessions=OCCUPANCY_SESSIONS,
        config=occupancy_config(),
    )
    assert result.value == pytest.approx(100 * (60 * 2 + 60 * 3 + 180 * 4) / (8 * 720))


def test_seat_occupancy_without_opening_hours_is_empty_and_warned(kpi):
    result = kpi.compute("seat_occupancy", "2026-W47", tables=TABLES, table_sessions=OCCUPANCY_SESSIONS)
    assert result.value is None
    assert any("opening hours" in w.message for w in result.warnings)


@pytest.mark.parametrize(
    ("week", "open_minutes"),
    [
        ("2026-W43", 300),  # Sunday 25 October: clocks go back at 03:00, 01:00-05:00 lasts five hours
        ("2026-W13", 180),  # Sunday 29 March: clocks go forward at 02:00, 01:00-05:00 lasts three hours
    ],
)
def test_seat_occupancy_in_a_dst_week(kpi, week, open_minutes):
    sunday = {"2026-W43": "2026-10-25", "2026-W13": "2026-03-29"}[week]
    # One seat, one guest from 00:30 UTC to 02:30 UTC: inside opening hours whatever the offset.
    sessions = [session(1, f"{sunday}T00:30:00Z", f"{sunday}T02:30:00Z", 1)]
    result = kpi.compute(
        "seat_occupancy",
        week,
        tz="Europe/Berlin",
        tables=[{"table_id": 1, "seats": 1}],
        table_sessions=sessions,
        config=occupancy_config({"sun": ["01:00-05:00"]}, "Europe/Berlin"),
    )
    assert result.value == pytest.approx(100 * 120 / open_minutes)


def test_bad_opening_hours_name_the_key(kpi):
    from kpicore import ConfigError

    with pytest.raises(ConfigError, match=r"opening_hours\] mon\[0\]"):
        kpi.compute(
            "seat_occupancy",
            "2026-W47",
            tables=TABLES,
            table_sessions=OCCUPANCY_SESSIONS,
            config=occupancy_config({"mon": ["25:00-26:00"]}),
        )


def test_a_source_without_the_pack_tables_makes_its_metrics_unavailable(kpi):
    results = kpi.compute(
        ["covers", "seat_occupancy", "revenue"], "2026-W47", orders=[], table_sessions=SESSIONS
    )
    assert results["covers"].status == "ok"
    assert results["seat_occupancy"].status == "unavailable"
    assert "no table 'tables'" in results["seat_occupancy"].reason
    assert results["revenue"].status == "ok"
