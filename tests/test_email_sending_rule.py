"""The email `sending` rule in real `kpi serve` processes (aiosmtpd on loopback, SIGKILL from the SMTP
server): a kill after the claim and before DATA is sent once by the restarted process, never `unknown`;
a kill between DATA and the 250 is `unknown`, reported (log line, [serve] notify, /healthz degraded
without addresses) until a person settles it with `kpi digest mark-arrived` or `kpi digest resend`."""

from __future__ import annotations

import json
import subprocess

from tests.chat_support import wait_for
from tests.test_serve import KPI, SLACK_OPS, Serve, deliveries, environment, wait_until_sent, write_config

EMAIL = "email:owner@example.com"
UNKNOWN_PROBLEM = {"kind": "delivery_unknown", "message": "digest weekly 2026-W47 email"}


def _config(tmp_path, demo_database, smtp_server) -> str:
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    write_config(
        tmp_path,
        demo_database,
        state_url=state_url,
        smtp=smtp_server,
        destinations=(EMAIL,),
        serve='tick = "1s"\nlease = "5s"\nnotify = ["slack:#ops"]',
    )
    return state_url


def _killed(serve: Serve) -> None:
    serve.process.wait(timeout=60)
    assert serve.process.returncode == -9, serve.text()


def _kpi(tmp_path, env, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [KPI, *args, "--config", str(tmp_path / "kpi.toml")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )


def test_a_kill_after_the_claim_and_before_data_is_sent_once_and_never_unknown(
    tmp_path, demo_database, slack_server, smtp_server, servers
):
    state_url = _config(tmp_path, demo_database, smtp_server)
    env = environment(slack_server)
    victim = Serve(tmp_path, env, name="victim")
    servers.append(victim)
    smtp_server.handler.kill_on_rcpt = victim.process.pid
    _killed(victim)
    assert smtp_server.messages == []
    assert [row[4] for row in deliveries(state_url)] == ["pending"]  # claimed, never handed over
    restarted = Serve(tmp_path, env, name="restarted")
    servers.append(restarted)
    restarted.started()
    try:
        wait_until_sent(state_url, EMAIL, timeout=90)
    except AssertionError:
        raise AssertionError(f"{deliveries(state_url)}\n{restarted.text()}") from None
    status, body = restarted.get("/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    assert restarted.stop() == 0
    assert len(smtp_server.messages) == 1
    assert "delivery_unknown" not in restarted.text()


def test_a_kill_between_data_and_250_is_unknown_reported_and_settled_by_a_person(
    tmp_path, demo_database, slack_server, smtp_server, servers
):
    slack = slack_server.fake
    state_url = _config(tmp_path, demo_database, smtp_server)
    env = environment(slack_server)
    victim = Serve(tmp_path, env, name="victim")
    servers.append(victim)
    smtp_server.handler.kill_on_data = victim.process.pid
    _killed(victim)
    assert len(smtp_server.messages) == 1  # it arrived, but the sender never heard the 250

    restarted = Serve(tmp_path, env, name="restarted")
    servers.append(restarted)
    restarted.started()
    restarted.wait_for(r"delivery_unknown kind=digest digest=weekly period=2026-W47")
    wait_for(lambda: slack.posted_to(SLACK_OPS))
    [notice] = slack.posted_to(SLACK_OPS)
    assert "digest weekly 2026-W47 email" in notice["text"] and "mark-arrived" in json.dumps(notice)
    status, body = restarted.get("/healthz")
    health = json.loads(body)
    assert status == 200 and health["status"] == "degraded" and health["problems"] == [UNKNOWN_PROBLEM]
    assert "owner@example.com" not in json.dumps(health["problems"])
    assert [row[4] for row in deliveries(state_url) if row[0] == "digest"] == ["unknown"]

    # A person checks the inbox and settles it; a row that is not unknown is refused (exit 2).
    args = ("--period", "2026-W47", "--destination", EMAIL)
    refused = _kpi(
        tmp_path, env, "digest", "mark-arrived", "weekly", "--period", "2026-W46", "--destination", EMAIL
    )
    assert refused.returncode == 2 and "only a delivery whose outcome is unknown" in refused.stderr
    settled = _kpi(tmp_path, env, "digest", "mark-arrived", "weekly", *args)
    assert settled.returncode == 0, settled.stderr
    assert _kpi(tmp_path, env, "digest", "mark-arrived", "weekly", *args).returncode == 2
    assert _kpi(tmp_path, env, "digest", "resend", "weekly", *args).returncode == 2
    status, body = restarted.get("/healthz")
    assert status == 200 and json.loads(body)["problems"] == []
    assert restarted.stop() == 0
    assert len(smtp_server.messages) == 1 and len(slack.posted_to(SLACK_OPS)) == 1
    assert restarted.text().count("delivery_unknown") == 1
    [row] = [row for row in deliveries(state_url) if row[0] == "digest"]
    assert row[4] == "sent"


def test_resend_sends_an_unknown_email_again_and_records_it(
    tmp_path, demo_database, slack_server, smtp_server, servers
):
    state_url = _config(tmp_path, demo_database, smtp_server)
    env = environment(slack_server)
    victim = Serve(tmp_path, env, name="victim")
    servers.append(victim)
    smtp_server.handler.kill_on_data = victim.process.pid
    _killed(victim)
    smtp_server.messages.clear()  # say it was lost after the server took it
    wait_for(lambda: [row[4] for row in deliveries(state_url)] == ["unknown"], 10)
    resent = _kpi(tmp_path, env, "digest", "resend", "weekly", "--period", "2026-W47", "--destination", EMAIL)
    assert resent.returncode == 0, resent.stderr
    assert f"{EMAIL}: sent" in resent.stdout
    assert len(smtp_server.messages) == 1
    [row] = deliveries(state_url)
    assert row[4] == "sent"
    listed = _kpi(tmp_path, env, "digest", "deliveries")
    assert "sent" in listed.stdout
