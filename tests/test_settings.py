"""The settings vocabulary: one duration grammar, key checks with suggestions (kpicore's tables and the
ones plugins declare), and every value of the service's tables refused by `kpi check` with one line."""

from __future__ import annotations

import datetime as dt

import pytest

from kpicore import hookimpl
from kpicore.config import Config, parse_config
from kpicore.errors import ConfigError
from kpicore.plugins import new_plugin_manager
from kpicore.registry import build_registry
from kpicore.settings import (
    check_declared_tables,
    check_keys,
    claim_lease,
    did_you_mean,
    parse_duration,
    parse_interval,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("500ms", 0.5),
        ("90s", 90),
        ("15m", 900),
        ("1.5h", 5400),
        ("1d", 86400),
        (" 2h ", 7200),
        ("0.25s", 0.25),
        ("1 h", 3600),
    ],
)
def test_a_duration_is_a_number_and_a_unit(text, seconds):
    assert parse_duration(text, "x") == seconds


@pytest.mark.parametrize(
    ("value", "options", "says"),
    [
        ("soon", {}, "x: 'soon' is not a duration: write a number and a unit (ms, s, m, h, d)"),
        ("90 seconds", {}, "'90 seconds' is not a duration"),
        ("1.5.h", {}, "'1.5.h' is not a duration"),
        ("-5s", {}, "'-5s' is not a duration"),
        ("0s", {}, "x: '0s' is not a duration: it must be more than zero"),
        (3600, {}, 'x: 3600 has no unit: write "3600s"'),
        (1.5, {}, 'x: 1.5 has no unit: write "1.5s"'),
        (True, {"seconds": True}, "x: True is not a duration"),
        (0, {"seconds": True}, "x: 0 is not a duration: it must be more than zero"),
        (-1, {"seconds": True}, "x: -1 is not a duration: it must be more than zero"),
        (["1h"], {}, "x: ['1h'] is not a duration"),
    ],
)
def test_what_is_not_a_duration_names_the_key(value, options, says):
    with pytest.raises(ConfigError) as caught:
        parse_duration(value, "x", **options)
    assert says in str(caught.value)


@pytest.mark.parametrize(
    ("value", "options", "seconds"),
    [(60, {"seconds": True}, 60.0), (2.5, {"seconds": True}, 2.5), ("0s", {"zero": True}, 0.0)],
)
def test_a_bare_number_is_seconds_only_where_a_key_is_in_seconds(value, options, seconds):
    assert parse_duration(value, "x", **options) == seconds


@pytest.mark.parametrize(
    ("text", "seconds", "says"),
    [
        ("30s", 30, None),
        ("1.5h", 5400, None),
        ("1d", 86400, None),
        ("0.5s", None, "'0.5s' is not an interval: intervals are whole seconds, at least 1"),
        ("1500ms", None, "'1500ms' is not an interval: intervals are whole seconds"),
        ("0s", None, "'0s' is not an interval: it must be more than zero"),
        ("30 seconds", None, "'30 seconds' is not an interval"),
    ],
)
def test_an_interval_is_whole_seconds(text, seconds, says):
    if says is None:
        assert parse_interval(text, "x") == seconds
    else:
        with pytest.raises(ConfigError, match=r"^x: ") as caught:
            parse_interval(text, "x")
        assert says in str(caught.value)


@pytest.mark.parametrize(
    ("table", "allowed", "says"),
    [
        ({"max_ag": 1}, ("max_age", "budget"), "[chat]: unknown key 'max_ag' (did you mean 'max_age'?)"),
        ({"zzz": 1}, ("max_age", "budget"), "[chat]: unknown key 'zzz' (known keys: max_age, budget)"),
        ({"rate": 1}, (), "[chat]: unknown key 'rate' (chat takes no keys)"),
        (
            {"max_age": 1, "budgt": 2},
            ("max_age", "budget"),
            "[chat]: unknown key 'budgt' (did you mean 'budget'?)",
        ),
    ],
)
def test_an_unknown_key_suggests_the_closest(table, allowed, says):
    with pytest.raises(ConfigError) as caught:
        check_keys(table, allowed, "kpi.toml: [chat]")
    assert str(caught.value) == f"kpi.toml: {says}"


def test_suggestions():
    assert did_you_mean("nsp", ["nps", "csat"]) == " (did you mean 'nps'?)"
    assert (
        did_you_mean("csta", ["csat", "cac", "nps"], n=3, cutoff=0.5, quote=False)
        == " (did you mean csat, cac?)"
    )
    assert did_you_mean("xyz", ["nps"], otherwise="; none") == "; none"
    check_keys({"max_age": 1}, ("max_age",), "x")  # a known key passes


def config_with(serve: dict) -> Config:
    return parse_config({"serve": serve})


@pytest.mark.parametrize(
    ("serve", "lease", "says"),
    [
        ({}, 60, None),
        ({"lease": "90s"}, 90, None),
        ({"lease": "1.5m"}, 90, None),
        ({"lease": "5s", "tick": "2s"}, 5, None),
        ({"lease": "banana"}, None, "kpi.toml: [serve].lease: 'banana' is not a duration"),
        ({"lease": "0s"}, None, "kpi.toml: [serve].lease: '0s' is not a duration: it must be more than zero"),
        (
            {"lease": "4s", "tick": "1s"},
            None,
            "kpi.toml: [serve].lease: '4s' is too short: a lease is at least 5s",
        ),
        (
            {"lease": "20s"},
            None,
            "kpi.toml: [serve].lease: '20s' is too short for [serve] tick = '15s': a lease is at least twice "
            'the tick (here "30s")',
        ),
        ({"lease": 60}, None, 'kpi.toml: [serve].lease: 60 has no unit: write "60s"'),
    ],
)
def test_the_lease_is_at_least_5s_and_twice_the_tick(serve, lease, says):
    if says is None:
        assert claim_lease(config_with(serve)) == dt.timedelta(seconds=lease)
    else:
        with pytest.raises(ConfigError) as caught:
            claim_lease(config_with(serve))
        assert str(caught.value).startswith(says)


class CrmSettings:
    """A plugin that reads [packs.crm] (and [packs.crm.stages]) and declares it."""

    plugin_name = "crm"

    @hookimpl
    def register_settings(self, register):
        register("packs.crm", ["won_stages", "stages"])
        register("packs.crm.stages", ["won", "lost"])


@pytest.mark.parametrize(
    ("packs", "says"),
    [
        ({"crm": {"won_stages": ["won"]}}, None),
        ({"crm": {"stages": {"won": 1}}}, None),
        ({"other": {"anything": 1}}, None),  # nobody declared it: `kpi check` says so, not this check
        (
            {"crm": {"won_stage": ["won"]}},
            "kpi.toml: [packs.crm]: unknown key 'won_stage' (did you mean 'won_stages'?)",
        ),
        (
            {"crm": {"stages": {"wn": 1}}},
            "kpi.toml: [packs.crm.stages]: unknown key 'wn' (did you mean 'won'?)",
        ),
        ({"crm": "won"}, "kpi.toml: [packs.crm]: expected a table of settings, got 'won'"),
    ],
)
def test_plugin_declared_tables_are_checked_with_the_same_vocabulary(packs, says):
    loaded = new_plugin_manager(load_entry_points=False)
    loaded.manager.register(CrmSettings(), name="crm")
    registry = build_registry(loaded, strict=True)
    config = parse_config({"packs": packs})
    if says is None:
        check_declared_tables(config, registry)
    else:
        with pytest.raises(ConfigError) as caught:
            check_declared_tables(config, registry)
        assert str(caught.value) == says
