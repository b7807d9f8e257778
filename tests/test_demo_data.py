"""The demo database: shape, determinism, the period it covers, its deliberate untidiness and its marker."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, date, datetime, timedelta

import pytest

from kpicore.demo_data import DEMO_MARKER_TABLE, generate_demo_database, is_demo_database
from kpicore.errors import KpiError

TODAY = date(2026, 11, 25)  # a Wednesday: last week is 2026-11-16 .. 2026-11-22
LAST_WEEK_START = "2026-11-16 00:00:00"
LAST_WEEK_END = "2026-11-23 00:00:00"

DATA_TABLES = ("customers", "orders", "marketing_spend", "leads", "survey_responses", "tickets")
TIME_COLUMNS = (
    ("customers", "signup_at"),
    ("customers", "churned_at"),
    ("orders", "ordered_at"),
    ("marketing_spend", "spent_on"),
    ("leads", "created_at"),
    ("leads", "converted_at"),
    ("survey_responses", "responded_at"),
    ("tickets", "opened_at"),
    ("tickets", "resolved_at"),
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The default-size demo database and the counts it reported."""
    path = tmp_path_factory.mktemp("demo") / "kpi-demo.db"
    counts = generate_demo_database(path, today=TODAY)
    connection = sqlite3.connect(path)
    yield path, counts, connection
    connection.close()


def scalar(connection: sqlite3.Connection, sql: str, *parameters):
    return connection.execute(sql, parameters).fetchone()[0]


def test_row_counts_are_plausible_and_match_the_file(demo):
    _, counts, connection = demo
    assert counts["customers"] == 2400
    assert 20_000 <= counts["orders"] <= 32_000
    assert counts["marketing_spend"] == 730 * 3
    assert counts["leads"] == 4800
    assert 2_000 <= counts["survey_responses"] <= 8_000
    assert 2_000 <= counts["tickets"] <= 8_000
    for table in DATA_TABLES:
        assert scalar(connection, f"SELECT count(*) FROM {table}") == counts[table]


def test_same_seed_and_day_give_identical_tables(tmp_path):
    first, second = tmp_path / "first.db", tmp_path / "second.db"
    generate_demo_database(first, today=TODAY, customers=300)
    generate_demo_database(second, today=TODAY, customers=300)
    other_seed = tmp_path / "other.db"
    generate_demo_database(other_seed, today=TODAY, customers=300, seed=8)

    def contents(path):
        with closing(sqlite3.connect(path)) as connection:
            return {
                table: connection.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
                for table in DATA_TABLES
            }

    assert contents(first) == contents(second)
    assert contents(first) != contents(other_seed)


def test_data_covers_two_years_ending_before_today(demo):
    _, _, connection = demo
    for table, column in TIME_COLUMNS:
        first, last = connection.execute(
            f"SELECT min(datetime({column})), max(datetime({column})) FROM {table}"
        ).fetchone()
        assert last < "2026-11-25 00:00:00", (table, column)
        assert first >= "2024-11-25 00:00:00", (table, column)
    assert scalar(connection, "SELECT min(spent_on) FROM marketing_spend") == "2024-11-25"
    assert scalar(connection, "SELECT max(spent_on) FROM marketing_spend") == "2026-11-24"


def test_default_today_is_the_utc_date(tmp_path):
    path = tmp_path / "kpi-demo.db"
    generate_demo_database(path, customers=200)
    today = datetime.now(UTC).date()
    with closing(sqlite3.connect(path)) as connection:
        assert (
            scalar(connection, "SELECT max(spent_on) FROM marketing_spend")
            == (today - timedelta(days=1)).isoformat()
        )


@pytest.mark.parametrize(
    "table, column",
    [
        ("orders", "ordered_at"),
        ("survey_responses", "responded_at"),
        ("tickets", "opened_at"),
        ("customers", "signup_at"),
    ],
)
def test_last_week_is_populated(demo, table, column):
    _, _, connection = demo
    count = scalar(
        connection,
        f"SELECT count(*) FROM {table} WHERE datetime({column}) >= ? AND datetime({column}) < ?",
        LAST_WEEK_START,
        LAST_WEEK_END,
    )
    assert count > 0


def test_every_timestamp_parses(demo):
    _, _, connection = demo
    for table, column in TIME_COLUMNS:
        unparsed = scalar(
            connection,
            f"SELECT count(*) FROM {table} WHERE {column} IS NOT NULL AND datetime({column}) IS NULL",
        )
        assert unparsed == 0, (table, column)


def test_some_order_timestamps_use_other_sqlite_forms(demo):
    _, counts, connection = demo
    plain_pattern = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]"
    plain = scalar(connection, "SELECT count(*) FROM orders WHERE ordered_at GLOB ?", plain_pattern)
    assert 0.02 <= 1 - plain / counts["orders"] <= 0.04
    assert scalar(connection, "SELECT count(*) FROM orders WHERE ordered_at LIKE '%Z'") > 0
    assert scalar(connection, "SELECT count(*) FROM orders WHERE ordered_at LIKE '% %.%'") > 0
    offsets = connection.execute(
        "SELECT ordered_at FROM orders WHERE ordered_at GLOB '*[+-][0-9][0-9]:[0-9][0-9]'"
    ).fetchall()
    assert offsets
    (text,) = offsets[0]
    local = datetime.fromisoformat(text)
    assert scalar(connection, "SELECT datetime(?)", text) == local.astimezone(UTC).strftime(
        "%Y-%m-%d %H:%M:%S"
    )


def test_customers_churn_a_few_percent_a_month_and_only_after_signup(demo):
    _, _, connection = demo
    assert (
        scalar(
            connection, "SELECT count(*) FROM customers WHERE julianday(churned_at) <= julianday(signup_at)"
        )
        == 0
    )
    churned, customer_months = connection.execute(
        "SELECT count(churned_at), "
        "sum(julianday(coalesce(churned_at, '2026-11-25')) - julianday(signup_at)) / 30.44 FROM customers"
    ).fetchone()
    assert 0.015 <= churned / customer_months <= 0.035
    assert scalar(connection, "SELECT count(*) FROM customers WHERE region IS NULL") > 0
    channels = {row[0] for row in connection.execute("SELECT DISTINCT channel FROM customers")}
    assert channels == {"organic", "paid_search", "social", "referral", "email"}


def test_orders_fall_while_the_customer_is_active(demo):
    _, _, connection = demo
    outside = scalar(
        connection,
        "SELECT count(*) FROM orders o JOIN customers c USING (customer_id) "
        "WHERE julianday(o.ordered_at) < julianday(c.signup_at) "
        "OR julianday(o.ordered_at) >= julianday(c.churned_at)",
    )
    assert outside == 0
    assert scalar(connection, "SELECT count(*) FROM orders WHERE amount <> round(amount, 2)") == 0


def test_refunds_follow_an_earlier_order_of_the_same_customer(demo):
    _, counts, connection = demo
    refunds = scalar(connection, "SELECT count(*) FROM orders WHERE amount < 0")
    assert 0.02 <= refunds / counts["orders"] <= 0.04
    orphaned = scalar(
        connection,
        "SELECT count(*) FROM orders r WHERE r.amount < 0 AND (r.customer_id IS NULL OR NOT EXISTS ("
        "SELECT 1 FROM orders o WHERE o.customer_id = r.customer_id AND o.amount >= -r.amount "
        "AND julianday(o.ordered_at) < julianday(r.ordered_at)))",
    )
    assert orphaned == 0


def test_guest_orders_exist(demo):
    _, counts, connection = demo
    guests = scalar(connection, "SELECT count(*) FROM orders WHERE customer_id IS NULL")
    assert 0.005 <= guests / counts["orders"] <= 0.02


def test_invalid_survey_scores_exist(demo):
    _, _, connection = demo
    for survey, condition in [
        ("nps", "score = 11"),
        ("nps", "score = -1"),
        ("nps", "score = 7.5"),
        ("nps", "score IS NULL"),
        ("csat", "score = 0"),
    ]:
        assert (
            scalar(
                connection, f"SELECT count(*) FROM survey_responses WHERE survey = ? AND {condition}", survey
            )
            > 0
        )


def test_nps_differs_by_region(demo):
    _, _, connection = demo
    by_region = dict(
        connection.execute(
            "SELECT c.region, 100.0 * (sum(s.score >= 9) - sum(s.score <= 6)) / count(*) "
            "FROM survey_responses s JOIN customers c USING (customer_id) "
            "WHERE s.survey = 'nps' AND s.score IN (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10) "
            "AND c.region IS NOT NULL "
            "GROUP BY c.region"
        ).fetchall()
    )
    assert set(by_region) == {"North", "South", "East", "West"}
    assert max(by_region.values()) - min(by_region.values()) >= 20


def test_leads_convert_about_a_quarter_after_creation(demo):
    _, counts, connection = demo
    converted = scalar(connection, "SELECT count(converted_at) FROM leads")
    assert 0.2 <= converted / counts["leads"] <= 0.3
    assert (
        scalar(
            connection, "SELECT count(*) FROM leads WHERE julianday(converted_at) <= julianday(created_at)"
        )
        == 0
    )


def test_tickets_mostly_resolve_and_some_are_invalid(demo):
    _, _, connection = demo
    assert scalar(connection, "SELECT count(*) FROM tickets WHERE resolved_at IS NULL") > 0
    assert (
        scalar(
            connection, "SELECT count(*) FROM tickets WHERE julianday(resolved_at) <= julianday(opened_at)"
        )
        == 0
    )
    assert scalar(connection, "SELECT avg(resolved_at IS NOT NULL) FROM tickets") > 0.95
    assert scalar(connection, "SELECT count(*) FROM tickets WHERE contacts IS NULL") > 0
    assert scalar(connection, "SELECT count(*) FROM tickets WHERE contacts = 0") > 0
    assert scalar(connection, "SELECT avg(contacts = 1) FROM tickets WHERE contacts >= 1") > 0.6
    assert {row[0] for row in connection.execute("SELECT DISTINCT escalated FROM tickets")} == {0, 1}


def test_marker_and_indexes(demo):
    _, _, connection = demo
    seed, generator = connection.execute(f"SELECT seed, generator FROM {DEMO_MARKER_TABLE}").fetchone()
    assert seed == 7 and generator.startswith("kpicore")
    indexed = set()
    for table in {table for table, _ in TIME_COLUMNS}:
        for _, index_name, *_ in connection.execute(f"PRAGMA index_list({table})").fetchall():
            for _, _, column in connection.execute(f"PRAGMA index_info({index_name})").fetchall():
                indexed.add((table, column))
    assert set(TIME_COLUMNS) | {("orders", "customer_id")} <= indexed


def test_is_demo_database(demo, tmp_path):
    path, _, _ = demo
    assert is_demo_database(path)
    plain = tmp_path / "plain.db"
    with closing(sqlite3.connect(plain)) as connection:
        connection.execute("CREATE TABLE orders (order_id INTEGER)")
    assert not is_demo_database(plain)
    text = tmp_path / "notes.db"
    text.write_text("not a database at all, just some text that is long enough")
    assert not is_demo_database(text)
    assert not is_demo_database(tmp_path / "missing.db")


def test_no_partial_file_is_left_behind(demo):
    path, _, _ = demo
    assert sorted(entry.name for entry in path.parent.iterdir()) == [path.name]


def test_replaces_an_old_demo_but_never_another_file(tmp_path):
    path = tmp_path / "kpi-demo.db"
    generate_demo_database(path, today=TODAY, customers=50)
    counts = generate_demo_database(path, today=TODAY, customers=60)
    assert counts["customers"] == 60
    foreign = tmp_path / "shop.db"
    foreign.write_bytes(b"precious")
    with pytest.raises(KpiError, match="not a kpicore demo database"):
        generate_demo_database(foreign, today=TODAY, customers=50)
    assert foreign.read_bytes() == b"precious"
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["kpi-demo.db", "shop.db"]
