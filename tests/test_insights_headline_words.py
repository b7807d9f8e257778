"""The headline with the driver of an unusual change, revenue at risk, and Persian's isolated numbers,
on the demo database (its planted churn surge in South, 2026-W47) and from hand-computed aggregates."""

from __future__ import annotations

import json
import re

import pytest

from kpicore.digest.headline import Attention, Headline, graphemes
from kpicore.insights.base import Insight, Number, Span, Word, format_estimate
from kpicore.insights.explained import with_drivers
from kpicore.insights.money import MONTH_DAYS, revenue_at_risk
from kpicore.insights.unusual import RECORD
from kpicore.results import MetricResult, Segment
from tests.support.bidi import outside_isolates

DIGEST = """
timezone = "UTC"
{locale}
[source]
url = "{db}"
[digests.weekly]
metrics = ["revenue", "new_customers", "churn_rate", "nps", "csat"]
breakdowns = {{ churn_rate = "region" }}
period = "2026-W47"
trend = 12
insights = 3
"""
LOCALES = ["en", "ml_IN", "bn_BD", "fa_IR", "ig_NG"]


def unisolated_digits(text: str) -> list[str]:
    """The digits of ``text`` outside every bidi isolate (U+2066..U+2068 ... U+2069)."""
    return [char for char in outside_isolates(text) if char.isdigit()]


def render(run_kpi, tmp_path, demo_database, locale: str, fmt: str) -> str:
    line = f'locale = "{locale}"' if locale != "en" else ""
    (tmp_path / "kpi.toml").write_text(DIGEST.format(db=demo_database, locale=line), encoding="utf-8")
    code, out, err = run_kpi("digest", "render", "weekly", "--format", fmt)
    assert code == 0, err
    return out


@pytest.mark.parametrize("locale", LOCALES)
def test_the_demo_headline_names_the_surge_and_where_it_came_from_within_120(
    run_kpi, tmp_path, demo_database, locale
):
    line = json.loads(render(run_kpi, tmp_path, demo_database, locale, "slack"))["messages"][0]["text"]
    headline = line.rsplit(" — ", 1)[0]
    assert graphemes(headline) <= 120, (graphemes(headline), headline)
    assert not headline.endswith("…")  # a part dropped whole, never cut mid-word
    # The surge is named with its driver, in every language: South's churned customers of its customers.
    assert "South" in headline, headline
    counts = re.search(r"(\d+)\D+(\d+)", headline.split("South", 1)[1])
    assert counts is not None, headline
    if locale == "fa_IR":
        assert unisolated_digits(headline) == [], headline


def test_the_demo_driver_counts_are_souths_churned_customers_of_its_customers(run_kpi, demo_database):
    code, out, err = run_kpi(
        "compute", "churn_rate", "--period", "2026-W47", "--by", "region", "--format", "json",
        "--source", str(demo_database),
    )  # fmt: skip
    assert code == 0, err
    south = next(s for s in json.loads(out)[0]["segments"] if s["segment"] == "South")
    code, out, err = run_kpi(
        "insights", "churn_rate", "--period", "2026-W47", "--format", "json", "--source", str(demo_database)
    )
    unusual = next(i for i in json.loads(out) if i["kind"] == "unusual")
    driver = unusual["numbers"]["driver"]
    assert driver["segment"] == "South" and driver["of"] == south["n"]
    assert driver["count"] == round(south["value"] * south["n"] / 100)


@pytest.mark.parametrize("fmt", ["html", "slack", "text", "md"])
def test_the_persian_headline_isolates_every_number_in_every_format(run_kpi, tmp_path, demo_database, fmt):
    body = render(run_kpi, tmp_path, demo_database, "fa_IR", fmt)
    if fmt == "html":
        body = re.sub(r"<bdi[^>]*>[^<]*</bdi>", "", body)  # HTML may isolate with <bdi> instead
    if fmt == "slack":
        document = json.loads(body)["messages"][0]
        body = "\n".join([document["text"], document["blocks"][2]["text"]["text"]])
    # The headline's sentences: the summary and the surge ("... 5 از 5 شاخص ...", "... ۱.۸٪ ...").
    found = [line for line in body.splitlines() if "شاخص" in line and "بدتر" in line]
    assert found, body[:800]
    for line in found:
        assert unisolated_digits(line.split("(", 1)[0] if fmt == "text" else line) == [], line


def surge(title: str = "Churn rate") -> list[Insight]:
    """An unusual churn surge of the demo's shape and the drivers insight naming South."""
    values = {
        "metric": Word(title),
        "value": Number(1.84, "percent"),
        "low": Number(0.0, "percent"),
        "high": Number(1.16, "percent"),
        "span": Span(100, "2026-W47"),
    }
    unusual = Insight(
        "churn_rate", "unusual", 0.75, "2026-W47", RECORD["high"], values,
        numbers={"value": 1.84, "expected": 0.49, "low": 0.0, "high": 1.16, "z": 6.0},
    )  # fmt: skip
    driver = Insight(
        "churn_rate", "drivers", 0.45, "2026-W47", "x", {"segment_change": Number(1.4, "change", of="percent")},
        segment="region = South",
        numbers={"role": "driver", "dimension": "region", "segment": "South", "share": 0.92, "change": 1.3},
    )  # fmt: skip
    segments = MetricResult(
        metric="churn_rate", title=title, unit="percent", better="lower", status="ok", period="2026-W47",
        start="2026-11-16", end="2026-11-23", value=1.84,
        segments=[Segment("South", 5.39, 501, 0.2, 498), Segment("North", 0.18, 557, 0.5, 560)],
    )  # fmt: skip
    return with_drivers([unusual, driver], {"region": {"churn_rate": segments}}, {"churn_rate": "customers"})


@pytest.mark.parametrize("locale", LOCALES)
def test_a_headline_with_a_driver_fits_120_or_drops_the_driver_whole(locale):
    from kpicore.i18n import using

    unusual = surge()[0]
    assert unusual.numbers["driver"] == {
        "dimension": "region",
        "segment": "South",
        "share": 0.92,
        "count": 27,
        "of": 501,
    }  # fmt: skip  27 = round(5.39 % of 501)
    with using(locale):
        for summary in ("4 of 5 KPIs worse than last week.", "x" * 60 + "."):
            full, *shorter = unusual.headline_forms(locale)
            text = Headline(
                summary, full, Attention("churn_rate", 6.0, full, "unusual", True, tuple(shorter))
            ).text
            assert graphemes(text) <= 120, (locale, graphemes(text), text)
            assert not text.endswith("…"), text
            # the driver part is all there, the count of the customers too, in every language
            assert "South" in text, (locale, text)
            after = text.split("South", 1)[1]
            assert "27" in after and "501" in after, text
            if locale == "en":
                assert text.endswith(
                    "Churn rate jumped to 1.8%, the highest in 100 weeks; most of it in South (27 of 501 customers)."
                ), text
            if locale == "fa_IR":
                assert unisolated_digits(text) == [], text
    # a title so long that no driver fits: the sentence without it, whole
    long = surge("Churn rate of the customers who signed up for the yearly plan in the spring")[0]
    full, *shorter = long.headline_forms("en")
    text = Headline(
        "1 of 5 KPIs worse.", full, Attention("churn_rate", 6.0, full, "unusual", True, tuple(shorter))
    ).text
    assert "South" not in text and text.endswith("the highest in 100 weeks.") and graphemes(text) <= 120


#: The demo digest's metrics as an unusual change could name them: title, unit, value, band, the driver's
#: parenthesis (a rate's events of its records, else the segment's own change) and segment name.
DEMO_FINDINGS = [
    ("Churn rate", "percent", 1.84, 0.0, 1.16, "customers", "South"),
    ("Revenue", "currency", 33173.11, 34000.0, 41000.0, None, "South"),
    ("Net Promoter Score", "points", 13.0, 20.0, 45.0, None, "paid_search"),
    ("Customer satisfaction (CSAT)", "percent", 75.0, 80.0, 95.0, "responses", "South"),
    ("New customers", "count", 32, 40, 70, None, "South"),
]
CURRENCIES = {
    "en": ("USD", 1),
    "ml_IN": ("INR", 85),
    "bn_BD": ("BDT", 120),
    "fa_IR": ("IRR", 10**6),
    "ig_NG": ("NGN", 1500),
}


@pytest.mark.parametrize("locale", LOCALES)
def test_every_unusual_sentence_keeps_its_driver_in_the_headline_in_every_language(locale):
    """Every way an unusual change is said (a record, for the time of year, the day of the week, the plain
    band; high and low), with each form of its driver, in each language, at the demo's currency scale:
    the one-line headline still names the driver within 120 grapheme clusters."""
    from kpicore.i18n import using
    from kpicore.insights.base import Noun, Part
    from kpicore.insights.explained import CLAUSES
    from kpicore.insights.unusual import MESSAGES

    currency, scale = CURRENCIES[locale]
    summary = {"en": "4 of 5 KPIs worse than last week."}.get(locale, "x" * 36 + ".")
    with using(locale):
        for title, unit, value, low, high, noun, where in DEMO_FINDINGS:
            size = scale if unit == "currency" else 1
            values = {
                "metric": Word(title),
                "value": Number(value * size, unit),
                "low": Number(low * size, unit),
                "high": Number(high * size, unit),
                "span": Span(100, "2026-W47"),
            }
            for message in [*RECORD.values(), *MESSAGES.values()]:
                for share in ("most", "part"):
                    if noun:
                        said = {"part": Number(120), "whole": Number(501), "noun": Noun(noun, 501)}
                        clause = CLAUSES[(share, "count")]
                    else:
                        said = {"change": Number(-4120.5 * size, "change", of=unit)}
                        clause = CLAUSES[(share, "change")]
                    unusual = Insight(
                        "m", "unusual", 0.7, "2026-W47", message, values, numbers={},
                        driver=Part(clause, {**said, "where": where}),
                    )  # fmt: skip
                    full, *shorter = unusual.headline_forms(locale, currency)
                    text = Headline(
                        summary, full, Attention("m", 6.0, full, "unusual", True, tuple(shorter))
                    ).text
                    assert graphemes(text) <= 120 and where in text, (graphemes(text), text)
                    assert not text.endswith("…"), text
                    if locale == "fa_IR":
                        assert unisolated_digits(text) == [], text


def test_revenue_at_risk_by_hand():
    # 10 customers lost above the usual level; 13 weeks of revenue and active customers before the week
    revenue = [7000.0] * 6 + [8000.0] * 6 + [None]
    active = [100] * 12 + [100]
    risk = revenue_at_risk(10, revenue, active, 7)
    assert risk is not None
    # (6 x 7000 + 6 x 8000) / (12 x 100) = 75 a customer a week; x 30.4375 / 7 = 326.116 a month
    assert risk["revenue_per_customer_month"] == pytest.approx(75 * 30.4375 / 7)
    assert risk["monthly"] == pytest.approx(3261.16, abs=0.01) and risk["periods"] == 12
    assert MONTH_DAYS == 30.4375
    assert format_estimate(risk["monthly"]) == "$3,300"
    assert format_estimate(risk["monthly"], "en", "EUR") == "€3,300"
    assert format_estimate(2437.5, "ml_IN", "INR") == "₹2,400"
    assert revenue_at_risk(-2, revenue, active, 7) is None  # fewer lost than expected: nothing at risk
    assert revenue_at_risk(10, [None], [None], 7) is None  # no revenue: nothing said


def test_the_demo_churn_surge_says_its_revenue_at_risk_from_the_same_aggregates(run_kpi, demo_database):
    code, out, err = run_kpi(
        "insights", "churn_rate", "--period", "2026-W47", "--format", "json", "--source", str(demo_database)
    )
    assert code == 0, err
    unusual = next(i for i in json.loads(out) if i["kind"] == "unusual")
    risk = unusual["details"]["revenue_at_risk"]
    code, out, err = run_kpi(
        "compute", "churn_rate", "revenue", "active_customers", "--period", "2026-W47", "--trend", "14",
        "--format", "json", "--source", str(demo_database),
    )  # fmt: skip
    assert code == 0, err
    churn, revenue, active = json.loads(out)
    numbers = unusual["numbers"]
    lost = (numbers["value"] - numbers["expected"]) / 100 * churn["n"]
    weeks_revenue = sum(p["value"] for p in revenue["trend"][:-1])
    weeks_customers = sum(p["value"] for p in active["trend"][:-1])
    by_hand = lost * weeks_revenue / weeks_customers * (365.25 / 12) / 7
    assert risk["customers_above_expected"] == pytest.approx(lost)
    assert risk["monthly"] == pytest.approx(by_hand, rel=1e-6)
    assert f"Revenue at risk: about {format_estimate(by_hand)} a month (an estimate)." in unusual["text"]
    code, out, err = run_kpi(
        "insights", "churn_rate", "--period", "2026-W47", "--details", "--source", str(demo_database)
    )
    assert "revenue_at_risk" in out and "customers above expected" in out


def unisolated_signs(text: str) -> list[str]:
    """Signs (+, -, −) next to a digit outside every bidi isolate: what the bidi algorithm reverses in
    right-to-left text (``2.3+``); digits alone keep their order."""
    plain = outside_isolates(text)
    return re.findall(r"[+\-−]\d|\d[+\-−](?!\d)", plain)


@pytest.mark.parametrize("fmt", ["html", "slack", "text", "md"])
def test_the_persian_digest_leaves_no_sign_unisolated_in_any_format(run_kpi, tmp_path, demo_database, fmt):
    """The whole Persian digest, headline, insights of every group and metric blocks: every signed number
    is isolated (a <bdi> in HTML, Unicode's isolates elsewhere), so none reads ``2.3+``."""
    body = render(run_kpi, tmp_path, demo_database, "fa_IR", fmt)
    if fmt == "html":
        body = re.sub(r"<(style|script)[^>]*>.*?</\1>", "", body, flags=re.S)
        body = re.sub(r'<img [^>]*>|<a [^>]*>|style="[^"]*"|alt="[^"]*"', "", body)
        while re.search(r"<bdi[^>]*>[^<]*</bdi>", body):
            body = re.sub(r"<bdi[^>]*>[^<]*</bdi>", "", body)
        body = re.sub(r"<[^>]+>", " ", body)
    if fmt == "slack":
        body = "\n".join(
            block["text"]["text"]
            if isinstance(block.get("text"), dict)
            else json.dumps(block, ensure_ascii=False)
            for message in json.loads(body)["messages"]
            for block in message["blocks"]
        )
    assert "\u2066" in body or fmt == "html"
    assert unisolated_signs(body) == [], body[:3000]
