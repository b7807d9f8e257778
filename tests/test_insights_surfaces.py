"""Insights where people meet them: `kpi insights` on the demo (its planted churn surge), bad input,
digests (top N), and the `is unusual` alert rule using the same band."""

from __future__ import annotations

import json

import pytest

from kpicore.alerts.rules import ACCEPTED_FORMS, Rule, parse_when
from kpicore.insights.holidays import holidays_of
from kpicore.insights.unusual import band, history_needed, year_lags

KINDS = {"unusual", "trend", "new_trend", "forecast", "concentration", "drivers", "year_over_year"}


def insights(run_kpi, source, *args):
    code, out, err = run_kpi("insights", *args, "--format", "json", "--source", str(source))
    assert code == 0, err
    return json.loads(out)


def test_the_planted_churn_surge_is_unusual_and_its_numbers_can_be_checked(run_kpi, demo_database):
    found = insights(run_kpi, demo_database, "churn_rate", "revenue", "nps", "--period", "2026-W47")
    assert found[0]["kind"] == "unusual"  # what needs attention first, highest score first
    assert {i["kind"] for i in found} <= KINDS and {i["period"] for i in found} == {"2026-W47"}
    unusual = found[0]
    assert unusual["metric"] == "churn_rate" and unusual["segment"] is None
    numbers = unusual["numbers"]
    assert numbers["value"] > numbers["high"] and numbers["z"] > numbers["threshold"] == 3.0
    # Two years of demo data: one full season before the week, so the band knows the time of year.
    assert numbers["method"] == "seasonal" and numbers["fallback"] is False
    # Reproducible from `kpi compute`: the same value, and the band from the same trend.
    assert history_needed("week", {}) > 120  # the band's reach; the demo's data starts within 120 weeks
    code, out, err = run_kpi(
        "compute",
        "churn_rate",
        "--period",
        "2026-W47",
        "--trend",
        "120",
        "--format",
        "json",
        "--source",
        str(demo_database),
    )
    assert code == 0, err
    (computed,) = json.loads(out)
    assert computed["value"] == pytest.approx(numbers["value"])
    points = computed["trend"]
    while points and points[0]["value"] in (None, 0):
        points.pop(0)
    values = [point["value"] for point in points]
    labels = [point["period"] for point in points]
    again = band(values, "week", lags=year_lags(labels), holidays=holidays_of(labels))
    assert again.expected == pytest.approx(numbers["expected"]) and again.high == pytest.approx(
        numbers["high"]
    )


def test_no_value_and_too_little_history_make_no_insight(run_kpi, demo_database):
    before_the_data = insights(run_kpi, demo_database, "nps", "csat", "churn_rate", "--period", "2020-W01")
    assert before_the_data == []
    code, out, _ = run_kpi("insights", "nps", "--period", "2020-W01", "--source", str(demo_database))
    assert code == 0 and out.strip() == "No insights for 2020-W01."
    # Three weeks into the data: no band, no trend, no forecast, no year over year (a share and the drivers
    # of the change since the week before need no history).
    early = insights(run_kpi, demo_database, "revenue", "churn_rate", "--period", "2024-W50")
    assert {i["kind"] for i in early} <= {"concentration", "drivers"}
    # The same metrics with their history do get the detectors that need it: the empty answers above are
    # the rule at work, not detectors that find nothing anywhere.
    later = insights(run_kpi, demo_database, "revenue", "churn_rate", "nps", "--period", "2026-W47")
    assert {i["kind"] for i in later} - {"concentration", "drivers"}, later


DIGEST = """
timezone = "UTC"
[source]
url = "{db}"
[digests.weekly]
metrics = ["revenue", "churn_rate", "nps"]
period = "2026-W47"
trend = 6
{extra}
"""


def render(run_kpi, tmp_path, demo_database, extra=""):
    (tmp_path / "kpi.toml").write_text(DIGEST.format(db=demo_database, extra=extra), encoding="utf-8")
    code, out, err = run_kpi("digest", "render", "weekly", "--format", "text")
    assert code == 0, err
    return out


def test_a_digest_shows_its_top_insights_and_none_when_told(run_kpi, tmp_path, demo_database):
    text = render(run_kpi, tmp_path, demo_database)
    assert "Churn rate jumped to " in text  # in the headline or the list
    # `insights = 3` (the default top) shows 3, besides the one the headline names; grouped.
    assert sum(line.startswith("- ") for line in text.splitlines()) == 3
    assert text.index("Needs attention:") < text.index("- ")
    if "Outlook:" in text:
        assert text.index("Outlook:") > text.rindex("Needs attention:")
    one = render(run_kpi, tmp_path, demo_database, "insights = 1")
    assert one.count("Churn rate jumped to ") == 1
    assert sum(line.startswith("- ") for line in one.splitlines()) == 1
    none = render(run_kpi, tmp_path, demo_database, "insights = 0")
    assert "Needs attention:" not in none and "jumped to" not in none
    (tmp_path / "kpi.toml").write_text(
        DIGEST.format(db=demo_database, extra='insights = "all"'), encoding="utf-8"
    )
    code, _, err = run_kpi("digest", "render", "weekly", "--format", "text")
    assert code == 2 and "[digests.weekly].insights: expected how many insights" in err


def test_is_unusual_parses_and_is_an_accepted_form():
    assert parse_when("a", "revenue is unusual") == Rule("unusual", "revenue")
    assert parse_when("a", "Churn_rate  IS  unusual") == Rule("unusual", "churn_rate")
    assert "is unusual" in ACCEPTED_FORMS


def test_is_unusual_fires_for_the_region_with_the_surge_only(run_kpi, tmp_path, demo_database):
    (tmp_path / "kpi.toml").write_text(
        f"""
[source]
url = "{demo_database}"
[alerts.churn_odd]
when = "churn_rate is unusual"
by = "region"
period = "2026-W47"
[alerts.churn_total]
when = "churn_rate is unusual"
period = "2026-W47"
[alerts.nps_odd]
when = "nps is unusual"
period = "2026-W47"
""",
        encoding="utf-8",
    )
    code, out, err = run_kpi("alerts", "check", "--format", "json")
    assert code == 0, err
    states = json.loads(out)
    by_region = {s["segment"]: s for s in states if s["alert"] == "churn_odd"}
    assert {name for name, s in by_region.items() if s["firing"]} == {"South"}
    south = by_region["South"]
    assert south["value"] > south["band"]["high"] and south["band"]["method"] == "seasonal"
    total = next(s for s in states if s["alert"] == "churn_total")
    assert total["firing"] and total["segment"] is None
    nps = next(s for s in states if s["alert"] == "nps_odd")
    assert nps["firing"] is False and nps["band"]["low"] <= nps["value"] <= nps["band"]["high"]
    code, out, _ = run_kpi("alerts", "check", "churn_odd")
    assert "churn_odd [South]: FIRING · churn_rate is unusual · 2026-W47 · " in out and "(expected " in out
    # one band: the alert's is the insight's (the same ISO weeks and moving-holiday calendar)
    insight = next(i for i in insights(run_kpi, demo_database, "churn_rate", "--period", "2026-W47"))
    assert insight["kind"] == "unusual"
    for key in ("expected", "low", "high", "robust_sd"):
        assert total["band"][key] == pytest.approx(insight["numbers"][key], rel=1e-9), key


def test_the_surge_is_said_in_an_owners_words_and_how_it_was_found_is_in_details(run_kpi, demo_database):
    found = insights(run_kpi, demo_database, "churn_rate", "--period", "2026-W47")
    unusual = next(i for i in found if i["kind"] == "unusual")
    # what happened, against how many weeks: not the method or its band
    assert unusual["text"].startswith("Churn rate jumped to "), unusual["text"]
    assert "the highest in " in unusual["text"] and " weeks" in unusual["text"]
    assert not any(word in unusual["text"] for word in ("plain", "band", "seasonal", "robust"))
    details = unusual["details"]
    assert details["method"] == "seasonal" and details["band"] == [
        unusual["numbers"]["low"],
        unusual["numbers"]["high"],
    ]
    assert details["z"] > details["threshold"]
    code, out, err = run_kpi(
        "insights", "churn_rate", "--period", "2026-W47", "--details", "--source", str(demo_database)
    )
    assert code == 0, err
    lines = out.splitlines()
    at = next(n for n, line in enumerate(lines) if "· unusual" in line)
    assert lines[at + 1].lstrip().startswith("method seasonal") and " band " in lines[at + 1]
    code, plain, err = run_kpi(
        "insights", "churn_rate", "--period", "2026-W47", "--source", str(demo_database)
    )
    assert "method seasonal" not in plain


@pytest.mark.parametrize("locale", ["en", "ml", "bn", "fa", "ig"])
def test_the_demo_digests_notification_line_is_at_most_120_grapheme_clusters(
    run_kpi, tmp_path, demo_database, locale
):
    from kpicore.digest.headline import graphemes

    extra = 'breakdowns = { churn_rate = "region" }\ninsights = 3'
    (tmp_path / "kpi.toml").write_text(
        DIGEST.format(db=demo_database, extra=extra).replace(
            'timezone = "UTC"', f'timezone = "UTC"\nlocale = "{locale}"'
        ),
        encoding="utf-8",
    )
    code, out, err = run_kpi("digest", "render", "weekly", "--format", "slack")
    assert code == 0, err
    line = json.loads(out)["messages"][0]["text"]
    headline = line.rsplit(" — ", 1)[0]
    assert graphemes(headline) <= 120, (graphemes(headline), headline)
    assert headline.strip(), line


def test_a_long_headline_drops_the_range_then_the_summary_never_the_news():
    from kpicore.digest.headline import Headline, graphemes

    summary = "4 of 5 KPIs worse than last week."
    focus = "Churn rate jumped to 1.8%, the highest in 100 weeks (expected 0.0% to 1.2%)."
    assert Headline(summary, focus).text == f"{summary} {focus}"  # 110: as it is
    longer = (
        "Customer satisfaction (CSAT) jumped to 91.8%, the highest in 100 weeks (expected 70.0% to 80.2%)."
    )
    assert Headline(summary, longer).text == (
        f"{summary} Customer satisfaction (CSAT) jumped to 91.8%, the highest in 100 weeks."
    )
    very = "Ọnụego ndị ahịa na-ahapụ rịgoro 1.8%, nke kachasị elu n'ime izu 100 gara aga " * 2 + "(a)."
    text = Headline(summary, very).text
    assert graphemes(text) <= 120 and text.startswith("Ọnụego") and text.endswith("…")
    # marks and bidi isolates belong to the letter before them
    assert graphemes("\u2066കി\u2069") == 1 and graphemes("সপ্তাহ") == 4


def holiday_shop_database(path) -> None:
    """A shop whose weekly revenue (one order a week, 2025-W01 to 2026-W53) is +25 % in each week
    holding Easter, Eid al-Fitr, Diwali or Nowruz, as the calendar has them; its one customer in North."""
    import math
    import random
    import sqlite3
    from datetime import date, timedelta

    from kpicore.insights.holidays import week_holidays

    rng = random.Random(5)
    first = date.fromisocalendar(2025, 1, 1)
    connection = sqlite3.connect(path)
    connection.execute(
        "CREATE TABLE customers (customer_id INTEGER PRIMARY KEY, signup_at TEXT, churned_at TEXT, "
        "channel TEXT, region TEXT, plan TEXT)"
    )
    connection.execute("INSERT INTO customers VALUES (1, '2024-12-01 00:00:00', NULL, 'web', 'North', 'pro')")
    connection.execute(
        "CREATE TABLE orders (order_id INTEGER PRIMARY KEY, customer_id INTEGER, ordered_at TEXT, amount REAL)"
    )
    for week in range(105):
        monday = first + timedelta(weeks=week)
        label = f"{monday.isocalendar().year}-W{monday.isocalendar().week:02d}"
        amount = 100_000 * 1.25 ** len(week_holidays(label)) * math.exp(rng.gauss(0, 0.03))
        connection.execute(
            "INSERT INTO orders (customer_id, ordered_at, amount) VALUES (1, ?, ?)",
            (f"{monday + timedelta(days=2)} 12:00:00", round(amount, 2)),
        )
    connection.commit()
    connection.close()


@pytest.mark.parametrize("by", [None, "region"])
def test_is_unusual_reads_the_moving_holidays_as_the_insight_does(run_kpi, tmp_path, by):
    # Diwali in 2026-W45, three weeks after 2025's (W43): the same ISO week a year before held none
    holiday_shop_database(tmp_path / "shop.db")
    by_line = f'by = "{by}"\n' if by else ""
    (tmp_path / "kpi.toml").write_text(
        f"""
[source]
url = "sqlite:///{tmp_path / "shop.db"}"
[alerts.diwali]
when = "revenue is unusual"
period = "2026-W45"
{by_line}""",
        encoding="utf-8",
    )
    code, out, err = run_kpi("alerts", "check", "--format", "json")
    assert code == 0, err
    (state,) = json.loads(out)
    assert state["band"]["method"] == "seasonal", state
    assert state["firing"] is False and state["band"]["low"] <= state["value"] <= state["band"]["high"], state
    found = insights(run_kpi, tmp_path / "shop.db", "revenue", "--period", "2026-W45")
    assert not [i for i in found if i["kind"] == "unusual"], found
