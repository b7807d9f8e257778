"""Alerts sent by real `kpi serve` processes to the loopback Slack server: once per (rule, period,
segment, destination), "back to normal" when the rule clears, the same across restarts (the ledger is
the state), a rule that flaps inside a period notified at most once, and per segment with `by`."""

from __future__ import annotations

import json
import re
import subprocess

import sqlalchemy as sa

from tests.test_serve import KPI, SLACK_OPS, Serve, environment


def _config(folder, demo_database, threshold: float) -> None:
    (folder / "kpi.toml").write_text(
        f"""timezone = "UTC"
state_url = "sqlite:///{folder / "state.db"}"
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
        return sorted(
            (r.kind, r.name, r.period, r.segment, r.destination, r.status) for r in list_deliveries(engine)
        )
    finally:
        engine.dispose()


def _texts(slack) -> list[str]:
    """The notification texts as Slack shows them (the sender escapes &, < and >)."""
    from html import unescape

    return [unescape(m["text"]) for m in slack.posted_to(SLACK_OPS)]


def _run_for(folder, env, servers, seconds: float, wait_for: str | None = None) -> Serve:
    """A `kpi serve` that runs ``seconds`` more fires of every alert (every 1 s) after ``wait_for``:
    fires that must send nothing new."""
    serve = Serve(folder, env)
    servers.append(serve)
    serve.started()
    if wait_for:
        serve.wait_for(wait_for)
    config = (folder / "kpi.toml").read_text()
    if 'every = "1s"' in config:
        for name in re.findall(r"^\[alerts\.([\w-]+)\]", config, re.M):
            serve.wait_for_fires("alert", name, more=max(int(seconds), 1))
    else:  # a daily schedule: no more fires today, but the ticks (every 1 s) could retry
        serve.wait_for_ticks(more=max(int(seconds), 1) + 1)
    assert serve.stop() == 0, serve.text()
    return serve


def test_an_alert_fires_once_clears_once_across_restarts(
    tmp_path, demo_database, slack_server, servers, run_kpi
):
    slack, env = slack_server.fake, environment(slack_server)
    code, out, err = run_kpi(
        "compute", "new_customers", "--period", "2026-W47", "--source", str(demo_database), "--format", "json"
    )
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
    result = subprocess.run(
        [KPI, "schedule", "--next", "1"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "alert signups: every 1s (UTC), period 2026-W47, when new_customers > 10" in result.stdout
    assert "alert churn_by_region: every 1s (UTC), period 2026-W47, when churn_rate > 0.5" in result.stdout


def _daily_config(
    folder, demo_database, threshold: float, *, source: str | None = None, serve: str = 'tick = "1s"'
) -> None:
    """One alert on a daily cron (00:00 UTC): between fires, only catch-up and retries can send."""
    (folder / "kpi.toml").write_text(
        f"""timezone = "UTC"
state_url = "sqlite:///{folder / "state.db"}"
[source]
url = "{source or demo_database}"
[slack]
retry_backoff = 0.01
max_retries = 0
[serve]
{serve}
[alerts.signups]
when = "new_customers > {threshold}"
period = "2026-W47"
schedule = "0 0 * * *"
destinations = ["slack:#ops"]
""",
        encoding="utf-8",
    )


def _signups(run_kpi, demo_database) -> float:
    code, out, err = run_kpi(
        "compute", "new_customers", "--period", "2026-W47", "--source", str(demo_database), "--format", "json"
    )
    assert code == 0, err
    return json.loads(out)[0]["value"]


def test_a_fire_missed_while_down_is_evaluated_once_on_start_and_healthz_shows_it(
    tmp_path, demo_database, slack_server, servers, run_kpi
):
    slack, env = slack_server.fake, environment(slack_server)
    _daily_config(tmp_path, demo_database, _signups(run_kpi, demo_database) - 1)
    serve = Serve(tmp_path, env)
    servers.append(serve)
    serve.started()
    serve.wait_for(r"caught_up alert=signups scheduled=\S+T00:00:00\+00:00")
    serve.wait_for(r"alerted .*alert=signups")
    status, body = serve.get("/healthz")
    assert status == 200
    (entry,) = json.loads(body)["alerts"]
    assert entry["name"] == "signups" and entry["next_fire"].endswith("T00:00:00+00:00")
    evaluation = entry["last_evaluation"]
    assert (evaluation["period"], evaluation["firing"], evaluation["failing"]) == ("2026-W47", 1, False)
    assert evaluation["scheduled"].endswith("T00:00:00+00:00")
    assert slack.token not in body.decode()
    assert serve.stop() == 0, serve.text()
    assert len(_texts(slack)) == 1

    # Started again the same day: the catch-up judges the rule again, and the ledger sends nothing new.
    again = _run_for(tmp_path, env, servers, 1.0, wait_for=r"caught_up alert=signups")
    assert "alerted" not in again.text()
    assert len(_texts(slack)) == 1


def test_healthz_says_an_alert_evaluation_failed_without_the_source_password(
    tmp_path, demo_database, slack_server, servers
):
    env = environment(slack_server)
    _daily_config(tmp_path, demo_database, 1, source="postgresql+psycopg://kpi:s3cret-pw@127.0.0.1:9/none")
    serve = Serve(tmp_path, env)
    servers.append(serve)
    serve.started()
    serve.wait_for(r"failed .*alert=signups")
    status, body = serve.get("/healthz")
    assert status == 200
    evaluation = json.loads(body)["alerts"][0]["last_evaluation"]
    assert evaluation["failing"] is True and evaluation["error"]
    assert "s3cret-pw" not in body.decode() and "s3cret-pw" not in serve.text()
    assert serve.stop() == 0


def test_a_failed_alert_send_is_retried_after_its_backoff_then_given_up(
    tmp_path, demo_database, slack_server, servers, run_kpi
):
    slack, env = slack_server.fake, environment(slack_server)
    threshold = _signups(run_kpi, demo_database) - 1

    # Slack answers 500 once: the tick retries after the 1 s backoff, and the alert goes out once.
    slack.fail_next_posts = 1
    _daily_config(tmp_path, demo_database, threshold, serve='tick = "1s"\nbackoff = ["1s"]\nretries = 2')
    serve = _run_for(tmp_path, env, servers, 2.0, wait_for=r"alerted .*alert=signups .*attempt=2")
    assert re.search(r"retried alert=signups", serve.text())
    assert len(_texts(slack)) == 1
    assert [(r[0], r[5]) for r in _ledger(tmp_path)] == [("alert", "sent")]

    # Slack keeps failing: one retry ([serve] retries = 1), then `gave_up`, and no further attempt.
    (tmp_path / "state.db").unlink()
    slack.history.clear()  # a fresh channel: nothing for a retry to find there
    slack.fail_next_posts = 100
    posts = len(slack.calls("chat.postMessage"))
    _daily_config(tmp_path, demo_database, threshold, serve='tick = "1s"\nbackoff = ["1s"]\nretries = 1')
    _run_for(tmp_path, env, servers, 3.0, wait_for=r"gave_up .*alert=signups")
    assert len(slack.calls("chat.postMessage")) - posts == 2
    assert [(r[0], r[5]) for r in _ledger(tmp_path)] == [("alert", "failed")]
