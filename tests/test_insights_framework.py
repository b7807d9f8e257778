"""The insights framework: the register_insights hook, what a detector receives, `kpi insights`."""

from __future__ import annotations

import json
import logging

import pytest

from kpicore import hookimpl
from kpicore import registry as registry_module
from kpicore.errors import PluginError
from kpicore.insights import Detector, Insight, Number, Word
from kpicore.plugins import new_plugin_manager
from kpicore.registry import build_registry

SEEN: list = []


class Recorder(Detector):
    """Records what it is given; says one thing about every metric."""

    kind = "recorder"
    settings = {"limit": 100}

    def history(self, metric, period, settings, options):
        return 6

    def dimensions(self, metric, settings, options):
        return ["region"] if metric.name == "revenue" else []

    def detect(self, evidence):
        SEEN.append(evidence)
        return [
            Insight(
                metric=evidence.metric.name,
                kind=self.kind,
                score=0.9 if evidence.metric.name == "revenue" else 0.1,
                period=evidence.result.period,
                message="%(metric)s is %(value)s.",
                values={
                    "metric": Word(evidence.metric.title),
                    "value": Number(evidence.result.value, evidence.metric.unit),
                },
                numbers={"value": evidence.result.value, "limit": evidence.settings["limit"]},
            )
        ]


class RecorderPlugin:
    plugin_name = "recorder-plugin"

    @hookimpl
    def register_insights(self, register):
        register(Recorder())


class Broken(Detector):
    kind = "broken"

    def detect(self, evidence):
        raise ZeroDivisionError("oops")


class BrokenPlugin:
    plugin_name = "broken-plugin"

    @hookimpl
    def register_insights(self, register):
        register(Broken())


class Impostor(Detector):
    kind = "concentration"

    def detect(self, evidence):
        return []


class ImpostorPlugin:
    plugin_name = "impostor-plugin"

    @hookimpl
    def register_insights(self, register):
        register(Impostor())


def install(monkeypatch, *plugins):
    loaded = new_plugin_manager(load_entry_points=False)
    for plugin in plugins:
        loaded.manager.register(plugin, name=plugin.plugin_name)
    built = build_registry(loaded)
    monkeypatch.setattr(registry_module, "_registry", built)
    return built


def test_a_third_party_detector_gets_history_and_segments_and_its_insights_are_listed(
    monkeypatch, run_kpi, tmp_path, demo_database
):
    SEEN.clear()
    install(monkeypatch, RecorderPlugin())
    (tmp_path / "kpi.toml").write_text(
        f'[source]\nurl = "{demo_database}"\n[insights.recorder]\nlimit = 7\n', encoding="utf-8"
    )
    code, out, err = run_kpi(
        "insights",
        "revenue",
        "nps",
        "--period",
        "2026-W47",
        "--format",
        "json",
        "--config",
        str(tmp_path / "kpi.toml"),
    )
    assert code == 0, err
    listed = [i for i in json.loads(out) if i["kind"] == "recorder"]
    assert [i["metric"] for i in listed] == ["revenue", "nps"]  # by score
    assert set(listed[0]) == {
        "metric",
        "kind",
        "group",
        "score",
        "period",
        "text",
        "details",
        "segment",
        "numbers",
    }
    assert listed[0]["group"] in ("attention", "good", "outlook")
    assert listed[0]["period"] == "2026-W47" and listed[0]["numbers"]["limit"] == 7
    assert listed[0]["text"].startswith("Revenue is ")
    revenue = next(e for e in SEEN if e.metric.name == "revenue")
    assert [p.period for p in revenue.history][-1] == "2026-W47" and len(revenue.history) == 6
    assert revenue.history[-1].value == revenue.result.value
    assert set(revenue.segments) == {"region"}
    segments = revenue.segments["region"].segments
    assert sum(s.value for s in segments) == pytest.approx(revenue.result.value)
    assert sum(s.previous for s in segments) == pytest.approx(revenue.result.previous)
    assert all(s.previous_n is not None for s in segments)
    nps = next(e for e in SEEN if e.metric.name == "nps")
    assert nps.segments == {}


def test_a_broken_detector_is_logged_for_the_operator_and_the_reader_sees_nothing(
    monkeypatch, run_kpi, demo_database, caplog
):
    install(monkeypatch, RecorderPlugin(), BrokenPlugin())
    with caplog.at_level(logging.WARNING, logger="kpicore.insights"):
        code, out, err = run_kpi(
            "insights", "revenue", "--period", "2026-W47", "--source", str(demo_database)
        )
    assert code == 0, err
    assert "revenue · recorder: Revenue is " in out
    assert "broken" not in out + err and "Warning" not in err and "oops" not in out + err
    logged = [r for r in caplog.records if r.name == "kpicore.insights"]
    assert any("insight broken failed for revenue: ZeroDivisionError: oops" in r.getMessage() for r in logged)


def test_no_history_is_no_band_rather_than_an_index_error():
    # `insight unusual failed for repeat_purchase_rate: IndexError` came from a metric without history.
    from kpicore.insights.unusual import band

    assert band([], "week") is None and band([None], "week") is None and band([], "quarter") is None


def test_two_plugins_registering_one_kind_is_an_error_naming_both(monkeypatch, run_kpi, demo_database):
    install(monkeypatch, ImpostorPlugin())
    code, _, err = run_kpi("insights", "revenue", "--source", str(demo_database))
    assert code != 0
    assert "insight 'concentration' is registered twice" in err
    assert "kpicore.insights.defaults" in err and "impostor-plugin" in err


def test_a_detector_must_be_a_detector_with_a_kind():
    class Nameless(Detector):
        def detect(self, evidence):
            return []

    class Plugin:
        @hookimpl
        def register_insights(self, register):
            register(Nameless())

    loaded = new_plugin_manager(load_entry_points=False)
    loaded.manager.register(Plugin(), name="nameless-plugin")
    with pytest.raises(PluginError, match="nameless-plugin: invalid insight: Nameless: kind must be"):
        build_registry(loaded, strict=True)


def test_unknown_insight_settings_are_config_errors(run_kpi, tmp_path, demo_database):
    (tmp_path / "kpi.toml").write_text(
        f'[source]\nurl = "{demo_database}"\n[insights.concentration]\nshar = 0.4\n', encoding="utf-8"
    )
    code, _, err = run_kpi("insights", "revenue", "--config", str(tmp_path / "kpi.toml"))
    assert code == 2
    assert "[insights.concentration]: unknown key 'shar' (did you mean 'share'?)" in err
    (tmp_path / "kpi.toml").write_text(
        f'[source]\nurl = "{demo_database}"\n[insights]\ndimensions = ["regio"]\n', encoding="utf-8"
    )
    code, _, err = run_kpi("insights", "revenue", "--config", str(tmp_path / "kpi.toml"))
    assert code == 2 and "[insights].dimensions" in err and "regio" in err


def test_an_unknown_metric_is_an_error(run_kpi, demo_database):
    code, _, err = run_kpi("insights", "revenu", "--source", str(demo_database))
    assert code != 0 and "unknown metric 'revenu'" in err and "revenue" in err


def test_kpi_check_names_a_wrong_insights_key(run_kpi, tmp_path, demo_database):
    (tmp_path / "kpi.toml").write_text(
        f'[source]\nurl = "{demo_database}"\n[insights]\ntop = -1\n[insights.unusual]\nthreshold = "high"\n'
        "[insights.unusal]\nwindow = 4\n",
        encoding="utf-8",
    )
    code, out, err = run_kpi("check", "--config", str(tmp_path / "kpi.toml"))
    assert code != 0
    said = out + err
    assert "[insights].top: expected a whole number" in said or "[insights]: unknown key 'unusal'" in said
    assert "[insights.unusual].threshold: expected a number, not 'high'" in said


def test_persian_sentences_isolate_their_signed_numbers_and_ranges():
    # "signed numbers render reversed (`2.3+`, `4.6-`)": each number is a left-to-right isolate.
    insight = Insight(
        metric="nps",
        kind="forecast",
        score=0.2,
        period="2026-W47",
        message="Forecast for %(next)s: %(metric)s %(value)s (%(level)s likely between %(low)s and %(high)s).",
        values={
            "metric": Word("Net Promoter Score"),
            "value": Number(-4.6, "points"),
            "low": Number(-12.0, "points"),
            "high": Number(2.3, "points"),
            "level": Number(0.8, "share"),
            "next": "2026-W48",
        },
    )
    text = insight.sentence("fa_IR")
    for number in ("-4.6", "-12.0", "+2.3", "2026-W48", "80%"):
        assert f"\u2066{number}\u2069" in text, text
    assert "\u2066" not in insight.sentence("en")
