"""/kpi inside a real `kpi serve` process: the same port as /healthz, signatures verified."""

from __future__ import annotations

from tests.chat_support import SIGNING_SECRET, command_body, send
from tests.test_serve import Serve, environment, write_config


def test_kpi_serve_answers_signed_slash_commands_beside_healthz(
    tmp_path, demo_database, slack_server, servers
):
    write_config(tmp_path, demo_database, state_url=f"sqlite:///{tmp_path / 'state.db'}", schedule="")
    env = environment(slack_server)
    env["SLACK_SIGNING_SECRET"] = SIGNING_SECRET
    serve = Serve(tmp_path, env)
    servers.append(serve)
    serve.started()
    url = f"http://127.0.0.1:{serve.port}/slack/events"

    answer = send(url, command_body("nps 2026-W47"))
    assert answer.status == 200, answer.body
    assert "Net Promoter Score" in answer.text and "2026-W47" in answer.text
    assert answer.elapsed < 3.0  # Slack's limit for the HTTP answer

    forged = send(url, command_body("nps 2026-W47"), sign_with="not-the-secret")
    assert forged.status == 401
    assert "Net Promoter Score" not in str(forged.body)

    status, _ = serve.get("/healthz")
    assert status == 200
    assert serve.stop() == 0
    log = serve.text()
    assert "chat http=/slack/events socket_mode=off" in log
    assert SIGNING_SECRET not in log


def test_kpi_serve_without_a_bot_token_runs_its_schedules_with_kpi_off(
    tmp_path, demo_database, slack_server, servers
):
    write_config(tmp_path, demo_database, state_url=f"sqlite:///{tmp_path / 'state.db'}", schedule="")
    env = environment(slack_server)
    env.pop("SLACK_BOT_TOKEN")
    serve = Serve(tmp_path, env)
    servers.append(serve)
    serve.started()
    assert 'chat http=off reason="SLACK_BOT_TOKEN is not set"' in serve.text()
    status, _ = serve.get("/healthz")
    assert status == 200
    assert serve.stop() == 0


def test_kpi_serve_answers_over_socket_mode_with_an_app_token(tmp_path, demo_database, slack_server, servers):
    """The 'done when' over Socket Mode: a running `kpi serve` connects with SLACK_APP_TOKEN and answers
    the slash_commands envelope in its acknowledgement."""
    from urllib.parse import parse_qsl

    from tests.chat_support import blocks_text
    from tests.socket_mode_server import SocketModeServer

    slack = slack_server.fake
    write_config(tmp_path, demo_database, state_url=f"sqlite:///{tmp_path / 'state.db'}", schedule="")
    env = environment(slack_server)
    env["SLACK_APP_TOKEN"] = slack.app_token
    with SocketModeServer() as server:
        slack.socket_url = server.url
        serve = Serve(tmp_path, env)
        servers.append(serve)
        serve.started()
        assert "chat http=/slack/events socket_mode=on" in serve.text()
        envelope = server.send("slash_commands", dict(parse_qsl(command_body("nps 2026-W47"))))
        ack = server.ack(envelope)
        assert ack["payload"]["response_type"] == "ephemeral"
        assert "Net Promoter Score" in blocks_text(ack["payload"]["blocks"])
        assert serve.stop() == 0
    assert slack.app_token not in serve.text()


def test_kpi_serve_replaces_computing_with_the_late_answer(tmp_path, demo_database, slack_server, servers):
    """The slow path in a real process: past the budget Slack gets "Computing …" at once, then the
    answer replaces it through the command's response_url."""
    from tests.chat_support import blocks_text, kpi_folder, wait_for

    slack = slack_server.fake
    folder = kpi_folder(tmp_path, demo_database, chat='budget = "1ms"')
    env = environment(slack_server)
    env["SLACK_SIGNING_SECRET"] = SIGNING_SECRET
    serve = Serve(folder, env)
    servers.append(serve)
    serve.started()
    answer = send(
        f"http://127.0.0.1:{serve.port}/slack/events",
        command_body("csat 2026-W47 by region", response_url=slack.response_url("late")),
    )
    assert answer.status == 200 and "Computing csat for 2026-W47" in answer.text and answer.elapsed < 3.0
    slack.acknowledged("late", answer.body)
    [late] = wait_for(lambda: slack.responses)
    assert late["replace_original"] is True and late["response_type"] == "ephemeral"
    [shown] = slack.screen("late")
    assert "Customer satisfaction" in blocks_text(shown["blocks"]) and "By region:" in blocks_text(
        shown["blocks"]
    )
    assert serve.stop() == 0
