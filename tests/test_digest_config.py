"""[digests.NAME] in kpi.toml -> DigestSpec: defaults, and errors naming the file and the key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from kpicore.config import parse_config
from kpicore.digest.config import check_cron, digest_spec, digest_specs
from kpicore.digest.run import compute_digest, in_digest_order, resolve_period
from kpicore.errors import ConfigError
from kpicore.registry import get_registry
from kpicore.scheduler import CronSchedule, IntervalSchedule


def config_with(digest: dict, **top) -> object:
    return parse_config({"timezone": "Europe/Berlin", **top, "digests": {"weekly": digest}}, Path("kpi.toml"))


def spec_of(digest: dict, **top):
    return digest_spec(config_with(digest, **top), "weekly", get_registry())


def error_of(digest: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        spec_of(digest)
    return str(caught.value)


def test_defaults():
    spec = spec_of({"metrics": ["revenue", "nps"]})
    assert spec.name == "weekly" and spec.title == "Weekly"
    assert spec.period == "last-week" and spec.trend == 12 and spec.template == "digest"
    assert spec.timezone == "Europe/Berlin" and spec.schedule is None
    assert spec.destinations == [] and spec.breakdowns == {}


def test_full_definition():
    spec = spec_of(
        {
            "title": "Weekly KPIs",
            "metrics": ["revenue", "nps", "csat"],
            "breakdowns": {"nps": "region"},
            "period": "last-month",
            "trend": 6,
            "schedule": "0 9 * * MON",
            "timezone": "Asia/Kolkata",
            "destinations": ["slack:#kpis", "email:a@example.com,b@example.com", "file:./d", "stdout:"],
            "template": "weekly",
        }
    )
    assert spec.title == "Weekly KPIs" and spec.breakdowns == {"nps": "region"}
    assert spec.timezone == "Asia/Kolkata" and spec.trend == 6 and spec.template == "weekly"
    assert (
        spec.schedule == CronSchedule("0 9 * * MON", "Asia/Kolkata") and str(spec.schedule) == "0 9 * * MON"
    )
    assert (spec.catch_up, spec.max_delay) == (86400, 6 * 3600)


def test_every_interval():
    spec = spec_of({"metrics": ["nps"], "every": "30s", "catch_up": "2h", "max_delay": "15m"})
    assert spec.schedule == IntervalSchedule(30, "30s") and str(spec.schedule) == "every 30s"
    assert (spec.catch_up, spec.max_delay) == (7200, 900)


@pytest.mark.parametrize(
    "digest, message",
    [
        (
            {"metrics": ["revenue", "csta"]},
            "kpi.toml: [digests.weekly].metrics: unknown metric 'csta' (did you mean csat, cac?)",
        ),
        ({}, "kpi.toml: [digests.weekly]: metrics is missing"),
        ({"metrics": []}, "kpi.toml: [digests.weekly].metrics: expected a non-empty list"),
        ({"metrics": ["nps", "nps"]}, "[digests.weekly].metrics: nps listed more than once"),
        (
            {"metrics": ["nps"], "metric": ["x"]},
            "kpi.toml: [digests.weekly]: unknown key 'metric' (did you mean 'metrics'?)",
        ),
        (
            {"metrics": ["nps"], "destination": ["x"]},
            "unknown key 'destination' (did you mean 'destinations'?)",
        ),
        (
            {"metrics": ["nps"], "period": "last-weak"},
            "kpi.toml: [digests.weekly].period: unknown period 'last-weak'",
        ),
        (
            {"metrics": ["nps"], "trend": 500},
            "kpi.toml: [digests.weekly].trend: expected a number of periods from 2 to 120",
        ),
        ({"metrics": ["nps"], "trend": 1}, "[digests.weekly].trend"),
        ({"metrics": ["nps"], "trend": "12"}, "[digests.weekly].trend"),
        (
            {"metrics": ["nps"], "timezone": "Europe/Berln"},
            "[digests.weekly].timezone: unknown timezone 'Europe/Berln'",
        ),
        (
            {"metrics": ["nps"], "breakdowns": {"npz": "region"}},
            "[digests.weekly].breakdowns: unknown metric 'npz' (did you mean nps?)",
        ),
        (
            {"metrics": ["nps"], "breakdowns": {"csat": "region"}},
            "'csat' is not one of this digest's metrics",
        ),
        (
            {"metrics": ["nps"], "breakdowns": {"nps": ""}},
            "[digests.weekly].breakdowns.nps: expected a dimension",
        ),
        (
            {"metrics": ["nps"], "destinations": ["#kpis"]},
            "[digests.weekly].destinations: Destination '#kpis' has no scheme",
        ),
        (
            {"metrics": ["nps"], "destinations": ["slak:#kpis"]},
            "no channel handles 'slak:' (did you mean slack:?)",
        ),
        (
            {"metrics": ["nps"], "destinations": ["email:nobody"]},
            "[digests.weekly].destinations: Destination 'email:nobody'",
        ),
        ({"metrics": ["nps"], "destinations": ["slack:"]}, "'slack:' names no channel"),
        (
            {"metrics": ["nps"], "destinations": "slack:#kpis"},
            "[digests.weekly].destinations: expected a list of URIs",
        ),
        ({"metrics": ["nps"], "schedule": "0 9 * *"}, "[digests.weekly].schedule: '0 9 * *' has 4 field(s)"),
        ({"metrics": ["nps"], "schedule": "61 9 * * MON"}, "minute field '61' is not valid"),
        ({"metrics": ["nps"], "schedule": "0 9 * * FUNDAY"}, "day of week field 'FUNDAY' is not valid"),
        (
            {"metrics": ["nps"], "every": "30 seconds"},
            "[digests.weekly].every: '30 seconds' is not an interval",
        ),
        ({"metrics": ["nps"], "every": "0s"}, "is not an interval"),
        ({"metrics": ["nps"], "every": "0.5s"}, "[digests.weekly].every: '0.5s' is not an interval"),
        (
            {"metrics": ["nps"], "schedule": "0 9 30 2 *"},
            "[digests.weekly].schedule: '0 9 30 2 *' can never fire",
        ),
        ({"metrics": ["nps"], "schedule": "0 9 * * *", "timezone": "Mars/Base"}, "[digests.weekly].timezone"),
        ({"metrics": ["nps"], "catch_up": "a day"}, "[digests.weekly].catch_up: 'a day' is not a duration"),
        ({"metrics": ["nps"], "destinations": ["slak:#kpis", "emial:a@b.c"]}, "did you mean slack:?"),
        ({"metrics": ["nps"], "every": "1h", "schedule": "* * * * *"}, "either schedule (cron) or every"),
        ({"metrics": ["nps"], "template": "../etc/passwd"}, "[digests.weekly].template"),
        ({"metrics": ["nps"], "title": ""}, "[digests.weekly].title"),
    ],
)
def test_errors_name_the_key(digest, message):
    assert message in error_of(digest)


@pytest.mark.parametrize(
    "cron",
    [
        "0 9 * * MON",
        "*/15 * * * *",
        "0 0 1 JAN-DEC *",
        "30 8 * * 1-5",
        "0 9,17 * * 0",
        "0 0 * * 7",
        "5 4 * * sun",
    ],
)
def test_valid_crons(cron):
    check_cron(cron, "x")


def test_unknown_digest_lists_defined_ones():
    config = config_with({"metrics": ["nps"]})
    with pytest.raises(ConfigError, match=r"unknown digest 'monthly': kpi.toml defines weekly"):
        digest_spec(config, "monthly", get_registry())


def test_digest_specs_validates_all():
    config = parse_config(
        {"digests": {"a": {"metrics": ["nps"]}, "b": {"metrics": ["nope"]}}}, Path("kpi.toml")
    )
    with pytest.raises(ConfigError, match=r"\[digests.b\].metrics: unknown metric 'nope'"):
        digest_specs(config, get_registry())


def test_period_is_relative_to_the_fire_time_in_the_digest_timezone():
    spec = spec_of({"metrics": ["nps"], "timezone": "Asia/Kolkata"})
    # Monday 2026-11-23 00:30 in Kolkata is still Sunday 19:00 UTC: last week is W47 in Kolkata.
    fire = dt.datetime(2026, 11, 22, 19, 0, tzinfo=dt.UTC)
    period = resolve_period(spec, now=fire)
    assert period.label == "2026-W47"
    assert period.start_iso() == "2026-11-16T00:00:00+05:30"
    # The same instant seen from UTC is still in W47, so last-week is W46.
    utc_spec = spec_of({"metrics": ["nps"], "timezone": "UTC"})
    assert resolve_period(utc_spec, now=fire).label == "2026-W46"
    assert resolve_period(spec, "2026-11", now=fire).label == "2026-11"


def test_one_compute_per_breakdown_dimension(demo_database):
    from kpicore.connectors import open_source

    spec = spec_of(
        {
            "metrics": ["revenue", "nps", "csat", "new_customers"],
            "breakdowns": {"nps": "region", "csat": "region"},
            "trend": 4,
        }
    )
    config = config_with({"metrics": ["nps"]})
    period = resolve_period(spec, "2026-W47")
    registry = get_registry()
    source = open_source(str(demo_database), config.source, registry)
    try:
        groups = compute_digest(spec, period, source, config, registry)
    finally:
        source.close()
    assert [(dimension, [r.metric for r in results]) for dimension, results in groups] == [
        (None, ["revenue", "new_customers"]),
        ("region", ["nps", "csat"]),
    ]
    ordered = in_digest_order(spec, groups)
    assert [r.metric for r in ordered] == ["revenue", "nps", "csat", "new_customers"]
    nps = ordered[1]
    assert nps.dimension == "region" and {s.segment for s in nps.segments} >= {"North", "South"}
    assert len(nps.trend) == 4 and ordered[0].segments is None
