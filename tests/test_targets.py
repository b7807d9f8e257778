"""Targets: each form against each unit (hand-computed), bad input, and the target carried through
`kpi compute` JSON, CSV and table, the digest headline and /kpi answers."""

from __future__ import annotations

import csv
import io
import json

import pytest

from kpicore.config import Config
from kpicore.digest.headline import headline
from kpicore.errors import ConfigError
from kpicore.presentation.targets import describe, status_text
from kpicore.results import MetricResult
from kpicore.targets import Target, apply_targets, parse_target, status


@pytest.mark.parametrize(
    ("raw", "unit", "better", "value", "on_track", "gap"),
    [
        # min: on track at the bound and above; gap = value - min
        ({"min": 40}, "points", "higher", 35, False, -5),
        ({"min": 40}, "points", "higher", 40, True, 0),
        ({"min": 40}, "points", "higher", 45.5, True, 5.5),
        ({"min": 1.5}, "ratio", "higher", 1.2, False, -0.3),
        ({"min": 80}, "percent", "higher", 82.25, True, 2.25),
        # max: on track at the bound and below; gap = value - max (points for a percent metric)
        ({"max": 2.5}, "percent", "lower", 3.3, False, 0.8),
        ({"max": 2.5}, "percent", "lower", 2.0, True, -0.5),
        ({"max": 30}, "minutes", "lower", 42, False, 12),
        ({"max": 120}, "currency", "lower", 99.5, True, -20.5),
        # range: both ends included; gap = distance beyond the end crossed, 0 inside
        ({"min": 30, "max": 50}, "count", "higher", 29, False, -1),
        ({"min": 30, "max": 50}, "count", "higher", 30, True, 0),
        ({"min": 30, "max": 50}, "count", "higher", 44, True, 0),
        ({"min": 30, "max": 50}, "count", "higher", 50, True, 0),
        ({"min": 30, "max": 50}, "count", "higher", 53, False, 3),
        ({"min": 70, "max": 90}, "percent", "higher", 91.5, False, 1.5),
        # goal: on track on the metric's better side; gap = value - goal
        ({"goal": 50000}, "currency", "higher", 48000, False, -2000),
        ({"goal": 50000}, "currency", "higher", 52500.5, True, 2500.5),
        ({"goal": 50000}, "currency", "higher", 50000, True, 0),
        ({"goal": 30}, "minutes", "lower", 35, False, 5),
        ({"goal": 30}, "minutes", "lower", 25, True, -5),
        ({"goal": 2.5}, "percent", "lower", 2.6, False, 0.1),
        ({"goal": 0}, "points", "higher", -15, False, -15),
        ({"goal": 100}, "count", "higher", 100, True, 0),
        ({"goal": 3}, "ratio", "higher", 3.5, True, 0.5),
    ],
)
def test_status_for_each_form_and_unit(raw, unit, better, value, on_track, gap):
    the_status = status(parse_target("m", raw), value, better)
    assert the_status.on_track is on_track
    assert the_status.gap == gap


def test_a_missing_value_has_no_status():
    the_status = status(Target(min=40), None, "higher")
    assert the_status.on_track is None and the_status.gap is None


def test_a_target_without_a_bound_has_no_status_and_no_text():
    # parse_target refuses an empty table, but a Target built in code may have no bound at all
    the_status = status(Target(), 3.0, "higher")
    assert the_status.on_track is None and the_status.gap is None
    assert describe(Target(), "count") == ""


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (40, "kpi.toml: [targets].nps: expected a table such as { min = 40 }"),
        (
            "min 40",
            "expected a table such as { min = 40 }, { max = 2.5 }, { min = 30, max = 50 } or { goal = 50000 }",
        ),
        ({"minimum": 40}, "kpi.toml: [targets].nps: unknown key 'minimum'; write the target as { min = 40 }"),
        ({}, "kpi.toml: [targets].nps: the table is empty"),
        ({"min": "40"}, "kpi.toml: [targets].nps: min must be a number, not '40'"),
        ({"max": True}, "kpi.toml: [targets].nps: max must be a number, not True"),
        ({"goal": 50, "min": 40}, "kpi.toml: [targets].nps: goal cannot be combined with min or max"),
        ({"min": 50, "max": 40}, "kpi.toml: [targets].nps: min (50) is greater than max (40); swap them"),
    ],
)
def test_bad_targets_are_refused_naming_the_key(raw, message):
    with pytest.raises(ConfigError) as error:
        parse_target("nps", raw)
    assert message in str(error.value)


def _result(metric="churn_rate", unit="percent", better="lower", value=3.3, previous=3.3, title="Churn rate"):
    return MetricResult(
        metric,
        title,
        unit,
        better,
        "ok",
        "2026-W47",
        "2026-11-16T00:00:00+00:00",
        "2026-11-23T00:00:00+00:00",
        value=value,
        previous=previous,
        n=100,
    )


def test_status_text_says_target_and_gap_for_people():
    off = _result()
    apply_targets([off], Config(targets={"churn_rate": {"max": 2.5}}))
    assert status_text(off) == "target ≤ 2.5%: ✗ off track by 0.80 pts"
    on = _result(metric="revenue", unit="currency", better="higher", value=52000, title="Revenue")
    apply_targets([on], Config(targets={"revenue": {"goal": 50000}}))
    assert status_text(on) == "target goal $50,000.00: ✓ on track"
    assert status_text(_result()) is None  # no target


def test_headline_names_an_off_target_metric_when_nothing_changed():
    results = [
        _result(),
        _result(metric="nps", unit="points", better="higher", value=45, previous=45, title="NPS"),
    ]
    assert headline(results).focus is None
    apply_targets(results, Config(targets={"churn_rate": {"max": 2.5}, "nps": {"min": 40}}))
    top = headline(results)
    assert top.named.kind == "target" and top.named.metric == "churn_rate"
    assert top.focus == "Churn rate is 3.3%, 0.80 points above its target of ≤ 2.5%."


def test_headline_ranks_the_target_furthest_off_first():
    results = [
        _result(
            metric="nps", unit="points", better="higher", value=38, previous=38, title="NPS"
        ),  # 2 of 10 pts
        _result(
            metric="revenue", unit="currency", better="higher", value=30000, previous=30000, title="Revenue"
        ),
    ]
    apply_targets(results, Config(targets={"nps": {"min": 40}, "revenue": {"goal": 50000}}))
    assert headline(results).named.metric == "revenue"  # 40 % short of its goal
    assert "Revenue is $30,000.00, $20,000.00 below its target of goal $50,000.00." == headline(results).focus


def test_chat_answer_shows_target_status_for_stored_values():
    from kpicore.chat.blocks import answer_blocks
    from kpicore.chat.grammar import Vocabulary, parse_command

    config = Config(targets={"churn_rate": {"max": 2.5}})
    request = parse_command("churn_rate 2026-W47", Vocabulary({"churn_rate": "Churn rate"}))
    text = json.dumps(answer_blocks(request, [_result()], config), ensure_ascii=False)
    assert "target ≤ 2.5%: ✗ off track by 0.80 pts" in text


TOML = """[source]
url = "{db}"
[targets]
nps = {{ min = 40 }}
churn_rate = {{ max = 2.5 }}
revenue = {{ goal = 50000 }}
csat = {{ min = 10, max = 20 }}
"""


def _compute(run_kpi, tmp_path, demo_database, *args):
    (tmp_path / "kpi.toml").write_text(TOML.format(db=demo_database), encoding="utf-8")
    code, out, err = run_kpi(
        "compute", "nps", "churn_rate", "revenue", "csat", "new_customers", "--period", "2026-W47", *args
    )
    assert code == 0, err
    return out


def test_compute_json_carries_target_on_track_and_gap(run_kpi, tmp_path, demo_database):
    results = {
        r["metric"]: r for r in json.loads(_compute(run_kpi, tmp_path, demo_database, "--format", "json"))
    }
    nps, churn, revenue, csat = results["nps"], results["churn_rate"], results["revenue"], results["csat"]
    assert (
        nps["target"] == {"min": 40}
        and churn["target"] == {"max": 2.5}
        and revenue["target"] == {"goal": 50000}
    )
    assert nps["on_track"] is (nps["value"] >= 40) and nps["gap"] == pytest.approx(nps["value"] - 40)
    assert churn["on_track"] is (churn["value"] <= 2.5) and churn["gap"] == pytest.approx(
        churn["value"] - 2.5
    )
    assert revenue["on_track"] is (revenue["value"] >= 50000)
    assert revenue["gap"] == pytest.approx(revenue["value"] - 50000)
    assert (
        csat["value"] > 20 and csat["on_track"] is False and csat["gap"] == pytest.approx(csat["value"] - 20)
    )
    assert results["new_customers"]["target"] is None
    assert results["new_customers"]["on_track"] is None and results["new_customers"]["gap"] is None


def test_compute_csv_and_table_show_targets(run_kpi, tmp_path, demo_database):
    rows = {
        r["metric"]: r
        for r in csv.DictReader(io.StringIO(_compute(run_kpi, tmp_path, demo_database, "--format", "csv")))
        if r["row"] == "total"
    }
    nps = rows["nps"]
    assert nps["target_min"] == "40" and nps["target_max"] == "" and nps["target_goal"] == ""
    assert nps["on_track"] == str(float(nps["value"]) >= 40).lower()
    assert float(nps["gap"]) == pytest.approx(float(nps["value"]) - 40)
    assert rows["revenue"]["target_goal"] == "50000" and rows["csat"]["on_track"] == "false"
    assert rows["new_customers"]["on_track"] == "" and rows["new_customers"]["gap"] == ""
    table = _compute(run_kpi, tmp_path, demo_database, "--wide")
    assert "Target" in table and "10.0%–20.0% ✗" in table and "over" in table
    # at 80 columns the target column folds away, and a missed target goes on a line under the table
    folded = _compute(run_kpi, tmp_path, demo_database)
    assert "Target" not in folded and "⚠ csat: target 10.0%–20.0% ✗ 49.8 pts over" in folded, folded
    assert "⚠ revenue: goal $50,000.00 ✗ $15,630.64 short" in folded, folded


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("nps = 40\n", "kpi.toml: [targets].nps: expected a table such as { min = 40 }"),
        (
            "churn_rate = { min = 5, max = 2 }\n",
            "kpi.toml: [targets].churn_rate: min (5) is greater than max (2)",
        ),
        ("nps = { minimum = 40 }\n", "kpi.toml: [targets].nps: unknown key 'minimum'"),
    ],
)
def test_check_and_compute_refuse_a_bad_target(run_kpi, tmp_path, demo_database, toml, message):
    (tmp_path / "kpi.toml").write_text(
        f'[source]\nurl = "{demo_database}"\n[targets]\n{toml}', encoding="utf-8"
    )
    code, out, err = run_kpi("check")
    assert code == 2, out + err
    assert message in err
    code, out, err = run_kpi("compute", "nps", "--period", "2026-W47")
    assert code == 2, out + err
    assert message in err
