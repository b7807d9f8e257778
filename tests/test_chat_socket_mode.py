"""/kpi over Socket Mode: the real Bolt Socket Mode adapter against a local envelope server."""

from __future__ import annotations

from urllib.parse import parse_qsl

from kpicore.chat.answers import Answerer
from kpicore.chat.app import build_app
from kpicore.chat.socket_mode import start_socket_mode
from kpicore.config import load_config
from tests.chat_support import blocks_text, command_body, kpi_folder
from tests.socket_mode_server import SocketModeServer


def test_slash_command_over_socket_mode(tmp_path, demo_database, slack_server, monkeypatch):
    slack = slack_server.fake
    folder = kpi_folder(tmp_path, demo_database)
    monkeypatch.chdir(folder)
    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)  # Socket Mode has no signatures
    monkeypatch.setenv("SLACK_APP_TOKEN", slack.app_token)
    answerer = Answerer(load_config(folder / "kpi.toml"))
    with SocketModeServer() as server:
        slack.socket_url = server.url
        handler = start_socket_mode(build_app(answerer.config, answerer))
        try:
            assert handler is not None
            assert slack.calls("apps.connections.open")
            payload = dict(parse_qsl(command_body("nps 2026-W47", response_url=slack.response_url("sm"))))
            envelope = server.send("slash_commands", payload)
            ack = server.ack(envelope)
            assert ack["payload"]["response_type"] == "ephemeral"
            text = blocks_text(ack["payload"]["blocks"])
            assert "Net Promoter Score" in text and "vs 2026-W46" in text
            refused = server.ack(
                server.send("slash_commands", dict(parse_qsl(command_body("revenue 2026-W47"))))
            )
            assert "can't be asked for" in blocks_text(refused["payload"]["blocks"])
        finally:
            handler.close()
            answerer.close()


def test_no_app_token_no_socket_mode(monkeypatch, tmp_path, demo_database, slack_server):
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    folder = kpi_folder(tmp_path, demo_database)
    answerer = Answerer(load_config(folder / "kpi.toml"))
    try:
        assert start_socket_mode(build_app(answerer.config, answerer)) is None
    finally:
        answerer.close()
