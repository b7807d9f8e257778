"""Alerts sent by real `kpi serve` processes to the loopback Slack server: once per (rule, period,
segment, destination), "back to normal" when the rule clears, the same across restarts (the ledger is
the state), a rule that flaps inside a period notified at most once, and per segment with `by`."""

from __future__ import annotations

import json
import subprocess
import time

import sqlalchemy as sa

from tests.test_serve import KPI, SLACK_OPS, Serve, environment


def _config(folder, demo_database, threshold: float) -> None:
    (folder / "kpi.toml").write_text(
        f"""timezone = "UTC"
state_url = "sqlite:///{folder / 'state.db'}"
[source]
url = "{demo_database}"
[slack]
retry_backoff = 0.01
max_retries = 1
[alerts.signups]
when = "new_customers > {threshold}"
period = "2026-W47"
every = "1s"
destinations = ["slack:#ops"]
[alerts.churn_by_region]
when = "churn_rate > 0.5"
by = "region"
period = "2026-W47"
every = "1s"
destinations = ["slack:#ops"]
""",
        encoding="utf-8",
    )


def _ledger(folder) -> list[tuple]:
    from kpicore.delivery.ledger import list_deliveries

    engine = sa.create_engine(f"sqlite:///{folder / 'state.db'}")
    try:
        return sorted((r.kind, r.name, r.period, r.segment, r.destination, r.status) for r in list_deliveries(engine))
    finally:
        engine.dispose()


def _texts(slack) -> list[str]:
    """The notification texts as Slack shows them (the sender escapes &, < and >)."""
    from html import unescape

    return [unescape(m["text"]) for m in slack.posted_to(SLACK_OPS)]


def _run_for(folder, env, servers, seconds: float, wait_for: str | None = None) -> Serve:
    serve = Serve(folder, env)
    servers.append(serve)
    serve.started()
    if wait_for:
        serve.wait_for(wait_for)
    time.sleep(seconds)  # several more fires (every 1 s) that must send nothing new
    assert serve.stop() == 0, serve.text()
    return serve


def test_an_alert_fires_once_clears_once_across_restarts(tmp_path, demo_database, slack_server, servers,
                                                          run_kpi):
    slack, env = slack_server.fake, environment(slack_server)
    code, out, err = run_kpi("compute", "new_customers", "--period", "2026-W47", "--source", str(demo_database),
                             "--format", "json")
    assert code == 0, err
    signups = json.loads(out)[0]["value"]

    # 1. The rule fires: one alert, however many fires follow.
    _config(tmp_path, demo_database, signups - 1)
    serve = _run_for(tmp_path, env, servers, 3.0, wait_for=r"alerted .*alert=signups")
    texts = _texts(slack)
    signup_alerts = [t for t in texts if "signups" in t]
    assert len(signup_alerts) == 1, texts
    assert signup_alerts[0].startswith(f"Alert: signups, 2026-W47: new_customers > {signups - 1:g} — ")
    # Per segment: East, and South with the demo's planted churn surge in 2026-W47; once each.
    region_alerts = sorted(t for t in texts if "churn_by_region" in t)
    assert len(region_alerts) == 2, texts
    assert "(region = East)" in region_alerts[0] and "(region = South)" in region_alerts[1], texts
    assert "cleared" not in serve.text()

    # 2. A restart with the rule still firing sends nothing: the ledger is the state.
    _run_for(tmp_path, env, servers, 3.0)
    assert len(_texts(slack)) == 3, _texts(slack)

    # 3. The rule clears (a higher threshold): one "back to normal", once.
    _config(tmp_path, demo_database, signups + 1)
    _run_for(tmp_path, env, servers, 3.0, wait_for=r"cleared .*alert=signups")
    cleared = [t for t in _texts(slack) if t.startswith("Back to normal: signups")]
    assert len(cleared) == 1 and len(_texts(slack)) == 4, _texts(slack)

    # 4. It fires again inside the same period (flapping): already notified for 2026-W47, nothing new.
    _config(tmp_path, demo_database, signups - 1)
    _run_for(tmp_path, env, servers, 3.0)
    assert len(_texts(slack)) == 4, _texts(slack)
    assert _ledger(tmp_path) == [
        ("alert", "churn_by_region", "2026-W47", "East", "slack:#ops", "sent"),
        ("alert", "churn_by_region", "2026-W47", "South", "slack:#ops", "sent"),
        ("alert", "signups", "2026-W47", "", "slack:#ops", "sent"),
        ("alert_clear", "signups", "2026-W47", "", "slack:#ops", "sent"),
    ]


def test_kpi_schedule_lists_alerts(tmp_path, demo_database):
    _config(tmp_path, demo_database, 10)
    result = subprocess.run([KPI, "schedule", "--next", "1"], cwd=tmp_path, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert "alert signups: every 1s (UTC), period 2026-W47, when new_customers > 10" in result.stdout
    assert "alert churn_by_region: every 1s (UTC), period 2026-W47, when churn_rate > 0.5" in result.stdout
