"""Alert rules: the `when` grammar (table-driven), judging a value, `kpi check` on bad rules, and
`kpi alerts list` / `kpi alerts check` on the demo database (nothing sent)."""

from __future__ import annotations

import json

import pytest

from kpicore.alerts.evaluate import judge
from kpicore.alerts.rules import ACCEPTED_FORMS, Rule, alert_spec, parse_when
from kpicore.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("churn_rate > 5", Rule("threshold", "churn_rate", op=">", number=5.0)),
        ("churn_rate>5", Rule("threshold", "churn_rate", op=">", number=5.0)),
        ("nps <= -10", Rule("threshold", "nps", op="<=", number=-10.0)),
        ("csat >= 80.5", Rule("threshold", "csat", op=">=", number=80.5)),
        ("revenue < 1000", Rule("threshold", "revenue", op="<", number=1000.0)),
        ("nps drops 10 vs previous", Rule("change", "nps", number=10.0, direction="down", vs="previous")),
        (
            "revenue falls 20% vs previous",
            Rule("change", "revenue", number=20.0, direction="down", relative=True, vs="previous"),
        ),
        (
            "revenue  Falls 20 %  vs  previous",
            Rule("change", "revenue", number=20.0, direction="down", relative=True, vs="previous"),
        ),
        (
            "churn_rate rises 1.5 vs previous",
            Rule("change", "churn_rate", number=1.5, direction="up", vs="previous"),
        ),
        (
            "new_customers grows 50% vs previous",
            Rule("change", "new_customers", number=50.0, direction="up", relative=True, vs="previous"),
        ),
        (
            "revenue falls 15% vs last-year",
            Rule("change", "revenue", number=15.0, direction="down", relative=True, vs="last-year"),
        ),
        (
            "revenue falls 15% vs last year",
            Rule("change", "revenue", number=15.0, direction="down", relative=True, vs="last-year"),
        ),
        ("nps drops 10 vs a year ago", Rule("change", "nps", number=10.0, direction="down", vs="last-year")),
        ("revenue < target", Rule("target", "revenue", op="<")),
        ("churn_rate > target", Rule("target", "churn_rate", op=">")),
        ("nps off target", Rule("target", "nps", op="off")),
    ],
)
def test_parse_when_reads_each_accepted_form(text, rule):
    assert parse_when("a", text) == rule


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "churn_rate is high",
            "kpi.toml: [alerts.churn_spike].when: cannot read 'churn_rate is high'; accepted forms:",
        ),
        ("churn_rate > five", "cannot read 'churn_rate > five'"),
        ("nps drops 10", "cannot read 'nps drops 10'"),
        (
            "nps drops 10 vs yesterday",
            "cannot compare with 'yesterday' (write 'vs previous' or 'vs last-year')",
        ),
        (
            "nps drops 10 vs last decade",
            "cannot compare with 'last decade' (write 'vs previous' or 'vs last-year')",
        ),
        ("nps drops 0 vs previous", "the change must be a positive number, not 0"),
        ("", "expected a rule as text"),
        (5, "expected a rule as text"),
    ],
)
def test_parse_when_refuses_naming_the_alert_and_the_forms(text, message):
    with pytest.raises(ConfigError) as error:
        parse_when("churn_spike", text)
    assert message in str(error.value)
    assert ACCEPTED_FORMS in str(error.value)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"by": "region"}, "[alerts.x]: missing when"),
        ({"when": "nps > 1", "wehn": "x"}, "[alerts.x]: unknown key 'wehn'"),
        ({"when": "nps > 1", "by": 3}, "[alerts.x].by: expected text"),
        ({"when": "nps > 1", "destinations": "slack:#ops"}, "[alerts.x].destinations: expected a list"),
        ("nps > 1", "[alerts.x]: expected a table"),
    ],
)
def test_alert_table_errors_name_the_key(table, message):
    with pytest.raises(ConfigError) as error:
        alert_spec("x", table)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("when", "value", "previous", "unit", "on_track", "gap", "fires"),
    [
        ("churn_rate > 5", 5.1, None, "percent", None, None, True),
        ("churn_rate > 5", 5.0, None, "percent", None, None, False),
        ("churn_rate >= 5", 5.0, None, "percent", None, None, True),
        ("nps < 0", -0.5, None, "points", None, None, True),
        ("nps <= 0", 0.1, None, "points", None, None, False),
        ("churn_rate > 5", None, None, "percent", None, None, False),  # no value: no alert
        ("nps drops 10 vs previous", 20, 30, "points", None, None, True),  # -10 exactly
        ("nps drops 10 vs previous", 20.5, 30, "points", None, None, False),
        ("nps drops 10 vs previous", 40, 30, "points", None, None, False),  # rose
        ("nps drops 10 vs previous", 20, None, "points", None, None, False),  # nothing to compare
        ("churn_rate rises 0.3 vs previous", 2.4, 2.1, "percent", None, None, True),  # float 0.2999..
        ("revenue falls 20% vs previous", 8000, 10000, "currency", None, None, True),
        ("revenue falls 20% vs previous", 8001, 10000, "currency", None, None, False),
        ("revenue falls 20% vs previous", 8000, 0, "currency", None, None, False),  # no relative change
        ("orders rises 50% vs previous", 150, 100, "count", None, None, True),
        ("revenue < target", 40000, None, "currency", False, -10000, True),
        ("revenue < target", 60000, None, "currency", True, 10000, False),
        ("revenue > target", 40000, None, "currency", False, -10000, False),  # below, not above
        ("csat > target", 96, None, "percent", False, 1, True),
        ("nps off target", 30, None, "points", False, -10, True),
        ("nps off target", 50, None, "points", True, 10, False),
        ("nps off target", 30, None, "points", None, None, False),  # no target status
    ],
)
def test_judge(when, value, previous, unit, on_track, gap, fires):
    assert judge(parse_when("a", when), value, previous, unit, on_track, gap) is fires


ALERTS = """[source]
url = "{db}"
[targets]
revenue = {{ goal = 50000 }}
[alerts.churn_by_region]
when = "churn_rate > 0.5"
by = "region"
period = "2026-W47"
[alerts.nps_drop]
when = "nps drops 10 vs previous"
period = "2026-W47"
[alerts.revenue_short]
when = "revenue < target"
period = "2026-W47"
schedule = "0 * * * *"
destinations = ["slack:#ops"]
"""


@pytest.fixture
def alert_config(tmp_path, demo_database):
    (tmp_path / "kpi.toml").write_text(ALERTS.format(db=demo_database), encoding="utf-8")


def _values(run_kpi, *args):
    code, out, err = run_kpi("compute", *args, "--period", "2026-W47", "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_alerts_list(run_kpi, alert_config):
    code, out, err = run_kpi("alerts", "list")
    assert code == 0, err
    assert out.splitlines() == [
        "churn_by_region: churn_rate > 0.5 by region · 2026-W47 · not scheduled · no destinations",
        "nps_drop: nps drops 10 vs previous · 2026-W47 · not scheduled · no destinations",
        "revenue_short: revenue < target · 2026-W47 · 0 * * * * · slack:#ops",
    ]


def test_alerts_check_json_matches_the_computed_values(run_kpi, alert_config):
    code, out, err = run_kpi("alerts", "check", "--format", "json")
    assert code == 0, err
    states = json.loads(out)
    nps, revenue = _values(run_kpi, "nps", "revenue")
    (nps_state,) = [s for s in states if s["alert"] == "nps_drop"]
    assert nps_state["value"] == nps["value"] and nps_state["previous"] == nps["previous"]
    assert nps_state["firing"] is (nps["value"] - nps["previous"] <= -10)
    (revenue_state,) = [s for s in states if s["alert"] == "revenue_short"]
    assert revenue_state["firing"] is (revenue["value"] < 50000) and revenue_state["target"] == {
        "goal": 50000
    }
    (churn,) = _values(run_kpi, "churn_rate", "--by", "region")
    by_region = {s["segment"]: s for s in states if s["alert"] == "churn_by_region"}
    assert set(by_region) == {s["segment"] for s in churn["segments"]}
    for segment in churn["segments"]:
        assert by_region[segment["segment"]]["value"] == segment["value"]
        assert by_region[segment["segment"]]["firing"] is (segment["value"] > 0.5)
    assert any(s["firing"] for s in by_region.values()) and not all(s["firing"] for s in by_region.values())


def test_alerts_check_one_rule_as_a_table(run_kpi, alert_config):
    (nps,) = _values(run_kpi, "nps")
    code, out, err = run_kpi("alerts", "check", "nps_drop")
    assert code == 0, err
    (line,) = out.splitlines()
    mark = "FIRING" if nps["value"] - nps["previous"] <= -10 else "ok"
    assert line.startswith(f"nps_drop: {mark} · nps drops 10 vs previous · 2026-W47 · ")
    code, out, err = run_kpi("alerts", "check", "nps_dorp")
    assert code == 2
    assert "unknown alert 'nps_dorp' (known: churn_by_region, nps_drop, revenue_short)" in err


@pytest.mark.parametrize(
    ("alert", "message"),
    [
        (
            'when = "churn_rate is high"',
            "kpi.toml: [alerts.bad].when: cannot read 'churn_rate is high'; accepted forms:",
        ),
        (
            'when = "churn_rat > 5"',
            "kpi.toml: [alerts.bad].when: unknown metric 'churn_rat' (did you mean 'churn_rate'?)",
        ),
        (
            'when = "churn_rate rises 20% vs previous"',
            "churn_rate is in percent, whose change is in points: write 'churn_rate rises 20 vs previous'",
        ),
        ('when = "nps < target"', "kpi.toml: [alerts.bad].when: nps has no target: add it under [targets]"),
    ],
)
def test_check_and_alerts_refuse_a_bad_rule(run_kpi, tmp_path, demo_database, alert, message):
    (tmp_path / "kpi.toml").write_text(
        f'[source]\nurl = "{demo_database}"\n[alerts.bad]\n{alert}\n', encoding="utf-8"
    )
    code, out, err = run_kpi("check")
    assert code == 2, out + err
    assert message in err
    code, out, err = run_kpi("alerts", "check")
    assert code == 2, out + err
    assert message in err


YEAR_OVER_YEAR = """[source]
url = "{db}"
[alerts.revenue_yoy]
when = "revenue {verb} {size}% vs last-year"
period = "{period}"
[alerts.nps_yoy_by_region]
when = "nps drops 1 vs last-year"
by = "region"
period = "{period}"
"""


def _yoy_states(run_kpi, tmp_path, demo_database, period, verb="rises", size=1):
    (tmp_path / "kpi.toml").write_text(
        YEAR_OVER_YEAR.format(db=demo_database, verb=verb, size=size, period=period), encoding="utf-8"
    )
    code, out, err = run_kpi("alerts", "check", "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_vs_last_year_judges_against_the_same_period_a_year_before(run_kpi, tmp_path, demo_database):
    (tmp_path / "kpi.toml").write_text(f'[source]\nurl = "{demo_database}"\n', encoding="utf-8")
    (revenue,) = _values(run_kpi, "revenue")
    code, out, err = run_kpi(
        "compute", "revenue", "nps", "--period", "2025-W47", "--by", "region", "--format", "json"
    )
    assert code == 0, err
    then, nps_then = json.loads(out)
    (nps_now,) = _values(run_kpi, "nps", "--by", "region")
    moved = 100 * (revenue["value"] - then["value"]) / then["value"]
    assert (
        abs(moved) > 2
        and abs(moved - (revenue["value"] - revenue["previous"]) / revenue["previous"] * 100) > 1
    )
    verb = "rises" if moved > 0 else "falls"
    # just under the year-over-year change fires, just over it does not
    for size, fires in ((abs(moved) - 0.5, True), (abs(moved) + 0.5, False)):
        states = _yoy_states(run_kpi, tmp_path, demo_database, "2026-W47", verb, round(size, 2))
        (state,) = [s for s in states if s["alert"] == "revenue_yoy"]
        assert state["firing"] is fires
        assert (state["value"], state["previous"], state["compared_with"]) == (
            revenue["value"],
            then["value"],
            "2025-W47",
        )
    then_by_region = {s["segment"]: s["value"] for s in nps_then["segments"]}
    by_region = {s["segment"]: s for s in states if s["alert"] == "nps_yoy_by_region"}
    assert set(by_region) == {s["segment"] for s in nps_now["segments"]}
    for segment in nps_now["segments"]:
        state = by_region[segment["segment"]]
        assert state["previous"] == then_by_region.get(segment["segment"])
        before = then_by_region.get(segment["segment"])
        moved = None if segment["value"] is None or before is None else segment["value"] - before
        assert state["firing"] is (moved is not None and moved <= -1)
    assert any(s["firing"] for s in by_region.values()) and not all(s["firing"] for s in by_region.values())


def test_vs_last_year_without_data_a_year_back_does_not_fire_and_says_so(run_kpi, tmp_path, demo_database):
    # The demo data starts in 2024-W48: a year before 2025-W47 there is nothing (a 0 would be a 100 % rise)
    states = _yoy_states(run_kpi, tmp_path, demo_database, "2025-W47", "rises", 1)
    assert len(states) > 2
    for state in states:
        assert state["firing"] is False and state["previous"] is None
        assert state["reason"] == "no data for 2024-W47, a year before"
    assert next(s for s in states if s["alert"] == "revenue_yoy")["value"] > 0
    code, out, err = run_kpi("alerts", "check", "revenue_yoy")
    assert code == 0, err
    assert "(no data for 2024-W47, a year before)" in out and "ok" in out
