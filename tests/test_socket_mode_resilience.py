"""Socket Mode failing in a real `kpi serve` does not stop the digests: Slack down at start (and the
connection dropped later) is retried with backoff while /healthz says degraded with the reason; a refused
app token is one log line, not a loop."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from tests.chat_support import blocks_text, command_body, wait_for
from tests.socket_mode_server import SocketModeServer
from tests.test_serve import Serve, environment, wait_until_sent, write_config


def _health(serve: Serve) -> tuple[int, dict]:
    status, body = serve.get("/healthz")
    return status, json.loads(body)


def _start(tmp_path, demo_database, slack_server, servers, app_token: str) -> tuple[Serve, str]:
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    write_config(tmp_path, demo_database, state_url=state_url)
    env = environment(slack_server)
    env["SLACK_APP_TOKEN"] = app_token
    serve = Serve(tmp_path, env)
    servers.append(serve)
    return serve.started(), state_url


def test_slack_down_at_start_retries_with_backoff_while_digests_go_out(
    tmp_path, demo_database, slack_server, servers
):
    slack = slack_server.fake
    with SocketModeServer() as server:
        slack.socket_url = server.url
        slack.connections_open_down = True
        serve, state_url = _start(tmp_path, demo_database, slack_server, servers, slack.app_token)
        status, health = _health(serve)
        assert status == 200 and health["status"] == "degraded" and health["serving"] is True
        assert health["problems"] == [
            {"kind": "socket_mode", "message": "apps.connections.open failed (service_unavailable)"}
        ]
        wait_until_sent(state_url, "slack:#kpis")  # the schedule fires with the chat side down
        wait_for(lambda: len(slack.calls("apps.connections.open")) >= 3)  # retried
        slack.connections_open_down = False
        server.wait_connected(timeout=90)
        wait_for(lambda: _health(serve) == (200, {**_health(serve)[1], "status": "ok", "problems": []}), 30)
        envelope = server.send("slash_commands", dict(parse_qsl(command_body("nps 2026-W47"))))
        assert "Net Promoter Score" in blocks_text(server.ack(envelope)["payload"]["blocks"])

        # Later: the WebSocket closed under it. The link reconnects on its own.
        server.connections[-1].close()
        wait_for(lambda: len(server.connections) == 2, 60)
        envelope = server.send("slash_commands", dict(parse_qsl(command_body("csat 2026-W47"))))
        assert "Customer satisfaction" in blocks_text(server.ack(envelope)["payload"]["blocks"])
        assert serve.stop() == 0
    log = serve.text()
    assert log.count("socket_mode_down") == 1  # one line per outage, not one per attempt
    assert "socket_mode_up" in log and slack.app_token not in log


def test_a_refused_app_token_is_one_line_and_the_schedule_keeps_firing(
    tmp_path, demo_database, slack_server, servers
):
    slack = slack_server.fake
    serve, state_url = _start(tmp_path, demo_database, slack_server, servers, "xapp-revoked-token")
    wait_until_sent(state_url, "slack:#kpis")
    status, health = _health(serve)
    assert status == 200 and health["status"] == "degraded"
    [problem] = health["problems"]
    assert (
        problem["message"]
        == "Slack refused SLACK_APP_TOKEN (invalid_auth); set a valid app token and restart"
    )
    serve.wait_for(r"delivered digest=weekly")
    assert serve.stop() == 0
    assert len(slack.calls("apps.connections.open")) == 1
    log = serve.text()
    assert log.count("socket_mode_down") == 1 and "retrying=no" in log
    assert "xapp-revoked-token" not in log
