"""/kpi follow, unfollow and following through signed requests to a real `kpi serve` process, and the
personal direct message each follower gets: once per (user, period), not again after a restart."""

from __future__ import annotations

import json

import sqlalchemy as sa

from tests.chat_support import SIGNING_SECRET, blocks_text, command_body, kpi_folder, send, wait_for
from tests.test_serve import Serve, environment

FOLLOW = 'follow_schedule = "1s"\nfollow_period = "2026-W47"\n'


def _serve(folder, slack_server, servers) -> Serve:
    env = environment(slack_server)
    env["SLACK_SIGNING_SECRET"] = SIGNING_SECRET
    serve = Serve(folder, env)
    servers.append(serve)
    serve.started()
    return serve


def _ledger(folder) -> list[tuple]:
    from kpicore.delivery.ledger import list_deliveries

    engine = sa.create_engine(f"sqlite:///{folder / 'kpi-state.db'}")
    try:
        rows = list_deliveries(engine, kind="personal")
        return sorted((r.kind, r.name, r.period, r.destination, r.status) for r in rows)
    finally:
        engine.dispose()


def test_follow_unfollow_following_and_one_personal_message_across_a_restart(
    tmp_path, demo_database, slack_server, servers
):
    slack = slack_server.fake
    folder = kpi_folder(tmp_path, demo_database, chat=FOLLOW)
    serve = _serve(folder, slack_server, servers)
    url = f"http://127.0.0.1:{serve.port}/slack/events"

    def ask(text: str, user: str = "U0ALICE"):
        answer = send(url, command_body(text, user=user))
        assert answer.status == 200, answer.body
        assert answer.body["response_type"] == "ephemeral"
        return answer.text

    # Bad input is answered helpfully, and nothing is stored.
    assert "did you mean nps" in ask("follow nsp")
    unknown_dimension = ask("follow nps by planet")
    assert "unknown dimension 'planet'" in unknown_dimension and "`region`" in unknown_dimension
    refused = ask("follow revenue")  # the allow-list: #general may not ask for revenue
    assert "can't be asked for in #general" in refused
    assert "You follow no metric yet" in ask("following")

    assert "You now follow *Net Promoter Score* by region" in ask("follow nps by region")
    assert "You now follow *Customer satisfaction (CSAT)*" in ask("follow satisfaction")
    listed = ask("following")
    assert "You follow 2 metrics" in listed and "`nps` — Net Promoter Score by region" in listed
    assert "You no longer follow *Customer satisfaction (CSAT)*" in ask("unfollow csat")
    assert "You weren't following" in ask("unfollow csat")
    assert "`csat`" not in ask("following")

    # The next fire sends Alice's personal message to her direct message, and only that once.
    serve.wait_for(r"delivered .*personal=U0ALICE", timeout=30)
    serve.wait_for_fires("personal", "follow", more=3)  # three more fires (every 1 s): nothing new
    (message,) = slack.dm_messages("U0ALICE")
    assert [c.params.get("users") for c in slack.calls("conversations.open")] == ["U0ALICE"]
    text = blocks_text(message["blocks"])
    assert "Your KPIs" in text and "Net Promoter Score" in text and "By region" in text
    assert "Customer satisfaction" not in text  # unfollowed before the fire
    # The top insights about the followed metrics, as in a digest of them: here a forecast, the drivers of the
    # change and the same week a year before.
    assert "*Outlook*" in text and "Forecast for 2026-W48: Net Promoter Score" in text
    assert "a year before" in text
    assert message["metadata"]["event_payload"]["key"].startswith("personal")
    status, body = serve.get("/healthz")
    assert status == 200 and "next_fire" in json.loads(body)["personal"]
    assert serve.stop() == 0, serve.text()
    assert _ledger(folder) == [("personal", "U0ALICE", "2026-W47", "slack:@U0ALICE", "sent")]

    # A restart (catch-up and fires) sends nothing again for the period.
    again = _serve(folder, slack_server, servers)
    wait_for(lambda: "caught_up personal=follow" in again.text())
    again.wait_for_fires("personal", "follow", more=3)
    assert again.stop() == 0, again.text()
    assert len(slack.dm_messages("U0ALICE")) == 1
    assert _ledger(folder) == [("personal", "U0ALICE", "2026-W47", "slack:@U0ALICE", "sent")]
    assert SIGNING_SECRET not in serve.text() + again.text()


def test_the_allow_list_is_checked_again_when_the_message_is_made():
    """A follow typed in #general keeps only what [chat] allow lets #general ask for today."""
    import datetime as dt

    from kpicore.chat.personal import allowed_follows
    from kpicore.chat.settings import ChatSettings
    from kpicore.config import Config
    from kpicore.follows import Follow

    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    follows = [
        Follow("U0ALICE", "nps", "region", "C0GENERAL3", "general", now),
        Follow("U0ALICE", "revenue", None, "C0GENERAL3", "general", now),
        Follow("U0ALICE", "revenue", None, "C0LEAD", "leadership", now),
    ]
    settings = ChatSettings.from_config(Config(chat={"allow": {"#leadership": ["*"], "*": ["nps"]}}))
    assert [(f.metric, f.channel_name) for f in allowed_follows(follows, settings)] == [
        ("nps", "general"),
        ("revenue", "leadership"),
    ]
    assert allowed_follows(follows, ChatSettings.from_config(Config())) == follows
