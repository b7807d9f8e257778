"""One formatting path: the `kpi compute` table and every digest format print the same value, change
and count for the same result, for every unit and locale."""

from __future__ import annotations

import re

import pytest

from kpicore.cli.output import change_text, print_table
from kpicore.digest.render import metric_view, render
from kpicore.presentation import formatting
from kpicore.results import UNITS
from tests.digest_data import PERIOD, result, sample_spec

#: One result per unit, with values whose precision the surfaces used to disagree on.
EVERY_UNIT = {
    "count": ("new_customers", "New customers", 1234, 1250, "customers"),
    "currency": ("revenue", "Revenue", 33038.82000000004, 31250.5, "orders"),
    "percent": ("churn_rate", "Churn rate", 0.49, 0.44, "customers"),
    "points": ("nps", "NPS", -15.2, 7.0, "responses"),
    "minutes": ("table_turnover_time", "Table turnover", 52.25, 49.0, "sessions"),
    "ratio": ("table_turn_rate", "Table turns", 2.295, 2.925, "sessions"),
}


def every_unit():
    return [
        result(metric, title, unit, "higher", value, previous, 571, n_noun=noun)
        for unit, (metric, title, value, previous, noun) in EVERY_UNIT.items()
    ]


def test_the_table_covers_every_unit():
    assert sorted(EVERY_UNIT) == sorted(UNITS)


@pytest.mark.parametrize("locale, currency", [("en", "USD"), ("de_DE", "EUR")])
def test_table_and_digest_print_the_same_strings(capsys, monkeypatch, locale, currency):
    monkeypatch.setenv("COLUMNS", "200")
    results = every_unit()
    print_table(results, currency, locale)
    table = capsys.readouterr().out
    rendered = {
        fmt: render(
            sample_spec(metrics=[r.metric for r in results], breakdowns={}),
            results,
            fmt,
            period_label=PERIOD,
            locale=locale,
            currency=currency,
            charts=False,
        ).body
        for fmt in ("text", "md", "html", "slack")
    }
    for item in results:
        view = metric_view(item, locale=locale, currency=currency)
        expected_value = formatting.format_value(item.value, item.unit, locale, currency)
        assert view.value == expected_value
        row = next(line for line in table.splitlines() if item.title in line)
        assert expected_value in row, (item.unit, row)
        assert view.delta in row and view.n in row
        assert change_text(item, locale, currency) == f"{view.arrow} {view.delta} {view.marker}"
        for fmt, body in rendered.items():
            assert expected_value.replace("\xa0", " ") in body.replace("\xa0", " "), (fmt, item.unit)
            assert view.delta.replace("\xa0", " ") in body.replace("\xa0", " "), (fmt, item.unit)


def test_the_precision_rules_the_surfaces_used_to_disagree_on():
    by_unit = {r.unit: metric_view(r) for r in every_unit()}
    assert by_unit["ratio"].value == "2.30"  # not 2.295 in the table and 2.29 in the digest
    assert by_unit["currency"].value == "$33,038.82"
    assert by_unit["percent"].value == "0.49%" and by_unit["percent"].delta == "+0.05 pts"
    assert by_unit["points"].delta == "-22.2 pts"  # a point change only: no (-318.1 %)
    assert by_unit["count"].delta == "-1.3%"
    assert by_unit["minutes"].value == "52.2 min"  # half to even, as Babel rounds
    assert by_unit["count"].n == "571 customers"


def test_cli_table_matches_the_digest_on_the_demo(run_kpi, demo_database, tmp_path):
    (tmp_path / "kpi.toml").write_text(
        f'timezone = "UTC"\ncurrency = "EUR"\nlocale = "de_DE"\n[source]\nurl = "{demo_database}"\n'
        '[digests.weekly]\nmetrics = ["revenue", "new_customers", "churn_rate", "nps", "csat"]\n'
        'period = "2026-W47"\ntrend = 0\n',
        encoding="utf-8",
    )
    code, table, err = run_kpi(
        "compute",
        "revenue",
        "new_customers",
        "churn_rate",
        "nps",
        "csat",
        "--period",
        "2026-W47",
        env={"COLUMNS": "200"},
    )
    assert code == 0, err
    code, text, err = run_kpi("digest", "render", "weekly")
    assert code == 0, err
    digest_lines = [line for line in text.splitlines() if re.match(r"^[A-Z].*: ", line)]
    assert len(digest_lines) == 5
    for line in digest_lines:
        title, value = line.split(": ", 1)
        row = next(r for r in table.splitlines() if title in r)
        assert value in row, (title, value, row)
