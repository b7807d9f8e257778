"""The Slack channel end to end: the real slack_sdk client against the local fake Slack."""

from __future__ import annotations

import pytest

from kpicore.channels import SlackChannel, default_channels
from kpicore.delivery import MessageKey, deliver
from kpicore.delivery.ledger import list_deliveries
from kpicore.digest import render
from kpicore.digest.message import OutgoingDigest
from kpicore.errors import DeliveryError
from kpicore.presentation.blockkit import check_message
from tests.conftest import SLACK_TOKEN
from tests.digest_data import PERIOD, sample_results, sample_spec
from tests.test_digest_render import PNG_SIGNATURE, many_results

FAST = {"retry_backoff": 0.01}


KEY = MessageKey("digest", "weekly", PERIOD)


def outgoing(results=None, spec=None, charts=None) -> OutgoingDigest:
    results = sample_results() if results is None else results
    spec = spec or sample_spec()
    return OutgoingDigest(
        spec=spec,
        period_label=PERIOD,
        renderings=lambda fmt: render(spec, results, fmt, period_label=PERIOD, currency="EUR", charts=charts),
    )


def test_posts_blocks_and_uploads_charts_in_a_thread(slack):
    delivery = SlackChannel().send(outgoing(), "#kpis", FAST)
    [message] = slack.posted_to("C0KPIS0001")
    assert message["text"].endswith(" — Weekly KPIs, 2026-W47")  # the headline first (the notification)
    assert message["blocks"][0]["type"] == "header" and check_message(message) == []
    assert delivery.message_ids[0] == f"C0KPIS0001:{message['ts']}"
    # Token travelled as a bearer header; the channel name was resolved across pages.
    assert all(r.headers["authorization"] == f"Bearer {SLACK_TOKEN}" for r in slack.calls("chat.postMessage"))
    assert len(slack.calls("conversations.list")) >= 2
    # One chart per metric with a trend, uploaded through the v2 flow into the thread.
    completed = [f for f in slack.files.values() if f["completed"]]
    assert sorted(f["filename"] for f in completed) == [
        "churn_rate.png",
        "new_customers.png",
        "nps.png",
        "revenue.png",
    ]
    assert all(f["data"].startswith(PNG_SIGNATURE) and len(f["data"]) == f["length"] for f in completed)
    assert {(f["channel"], f["thread_ts"]) for f in completed} == {("C0KPIS0001", message["ts"])}
    # Every chart carries its alt text (what a screen reader says instead of the image).
    alt = {f["filename"]: f["alt_txt"] for f in completed}
    assert alt["revenue.png"].startswith(
        "Revenue over 6 weeks, Oct 12 to Nov 16: from €39,000.00 to €48,210.50"
    )
    assert len(slack.calls("upload")) == 4
    assert [i for i in delivery.message_ids if i.startswith("file:")] == [f"file:{f}" for f in slack.files]


def test_channel_id_is_used_as_is_and_names_are_cached(slack):
    channel = SlackChannel()
    channel.send(outgoing(), "C0OPS00002", {**FAST, "charts": "off"})
    assert slack.calls("conversations.list") == []
    channel.send(outgoing(), "#kpis", {**FAST, "charts": "off"})
    lookups = len(slack.calls("conversations.list"))
    channel.send(outgoing(), "#kpis", {**FAST, "charts": "off"})
    assert len(slack.calls("conversations.list")) == lookups
    assert len(slack.messages) == 3 and slack.files == {}


def test_sixty_metrics_are_accepted_by_slack(slack):
    results = many_results(60)
    SlackChannel().send(
        outgoing(results, sample_spec(metrics=[r.metric for r in results]), charts=False),
        "#kpis",
        {**FAST, "charts": "off"},
    )
    posts = slack.calls("chat.postMessage")
    assert len(posts) == 4 and all(p.response["ok"] for p in posts)
    # header, period, headline, then divider + section + context per metric; the 3 continuation notes
    # stand where the dividers that would have opened parts 2 to 4 were.
    assert sum(len(m["blocks"]) for m in slack.messages) == 3 + 60 * 3


def test_rate_limit_then_success(slack):
    slack.rate_limit_next = 1
    SlackChannel().send(outgoing(), "C0KPIS0001", {**FAST, "charts": "off"})
    statuses = [r.status for r in slack.calls("chat.postMessage")]
    assert statuses == [429, 200]
    assert len(slack.messages) == 1


def test_invalid_token(slack, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-wrong-secret-value")
    with pytest.raises(DeliveryError) as caught:
        SlackChannel().send(outgoing(), "#kpis", FAST)
    message = str(caught.value)
    assert "invalid_auth" in message and "slack:#kpis" in message and "SLACK_BOT_TOKEN" in message
    assert "xoxb-wrong-secret-value" not in message


def test_missing_token(slack, monkeypatch):
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    with pytest.raises(DeliveryError, match="SLACK_BOT_TOKEN"):
        SlackChannel().send(outgoing(), "#kpis", FAST)


@pytest.mark.parametrize("target", ["#no-such-channel", "C0NOPE0000"])
def test_channel_not_found(slack, target):
    with pytest.raises(DeliveryError) as caught:
        SlackChannel().send(outgoing(), target, FAST)
    message = str(caught.value)
    assert "channel_not_found" in message and f"slack:{target}" in message and "'weekly'" in message
    assert SLACK_TOKEN not in message


def test_server_error_on_one_destination_others_still_sent(slack, engine):
    slack.fail_channels.add("C0OPS00002")
    destinations = ["slack:#ops", "slack:#kpis"]
    channels = {c.scheme: c for c in default_channels()}
    spec = sample_spec(destinations=destinations)
    outcomes = deliver(KEY, destinations, outgoing(spec=spec), engine, channels, {"slack": FAST})
    assert [(o.destination, o.status) for o in outcomes] == [
        ("slack:#ops", "failed"),
        ("slack:#kpis", "sent"),
    ]
    assert "internal_error" in outcomes[0].error and "HTTP 500" in outcomes[0].error
    # ServerErrorRetryHandler retried before giving up.
    assert len([r for r in slack.calls("chat.postMessage") if r.params["channel"] == "C0OPS00002"]) == 4
    rows = {r.destination: r for r in list_deliveries(engine, digest="weekly")}
    assert rows["slack:#ops"].status == "failed" and "internal_error" in rows["slack:#ops"].last_error
    assert rows["slack:#kpis"].status == "sent" and rows["slack:#kpis"].message_ids

    # The next run retries only the failed destination, and never duplicates the sent one.
    slack.fail_channels.clear()
    again = deliver(KEY, destinations, outgoing(spec=spec), engine, channels, {"slack": FAST})
    assert [(o.destination, o.status) for o in again] == [("slack:#ops", "sent"), ("slack:#kpis", "skipped")]
    assert "already sent" in again[1].message
    third = deliver(KEY, destinations, outgoing(spec=spec), engine, channels, {"slack": FAST})
    assert {o.status for o in third} == {"skipped"}
    assert len(slack.posted_to("C0KPIS0001")) == 1 and len(slack.posted_to("C0OPS00002")) == 1
    rows = {r.destination: r for r in list_deliveries(engine, digest="weekly")}
    assert rows["slack:#ops"].attempts == 2 and rows["slack:#ops"].status == "sent"


def test_failure_after_the_first_part_says_what_was_posted(slack):
    results = many_results(60)
    message = outgoing(results, sample_spec(metrics=[r.metric for r in results]), charts=False)
    original = slack.api_chat_postMessage

    def second_call_fails(params):
        if slack.messages:
            return 200, {}, {"ok": False, "error": "msg_too_long"}
        return original(params)

    slack.api_chat_postMessage = second_call_fails
    with pytest.raises(
        DeliveryError, match=r"msg_too_long; 1 of 4 messages were posted before the failure \(C0KPIS0001:"
    ):
        SlackChannel().send(message, "C0KPIS0001", FAST)


def test_a_user_destination_is_a_direct_message_opened_once(slack):
    """slack:@USER opens the bot's direct message with conversations.open (cached), then posts there."""
    channel = SlackChannel()
    first = channel.send(outgoing(charts=False), "@U0BOB", FAST)
    second = channel.send(outgoing(charts=False), "@U0BOB", FAST)
    dm = slack.dms["U0BOB"]
    assert len(slack.dm_messages("U0BOB")) == 2 and first.message_ids[0].startswith(f"{dm}:")
    assert second.message_ids[0].startswith(f"{dm}:")
    assert [c.params["users"] for c in slack.calls("conversations.open")] == ["U0BOB"]
    with pytest.raises(
        DeliveryError, match=r"user_not_found; '@U0NOBODY0' must be the id of an active person"
    ):
        channel.send(outgoing(charts=False), "@U0NOBODY0", FAST)
    from kpicore.errors import ConfigError

    with pytest.raises(ConfigError, match="a direct message names a Slack user id"):
        channel.check_target("@bob")


@pytest.mark.parametrize(
    "url",
    ["http://slack.example.com/api/", "ftp://127.0.0.1/api/", "https:///api/", "http://10.0.0.5:8080/api/"],
)
def test_an_api_url_that_would_carry_the_token_off_the_machine_in_clear_is_refused(monkeypatch, url):
    from kpicore.channels.slack import api_url
    from kpicore.errors import ConfigError

    monkeypatch.setenv("KPI_SLACK_API_URL", url)
    with pytest.raises(ConfigError, match=r"KPI_SLACK_API_URL .* must be https://"):
        api_url()
    monkeypatch.delenv("KPI_SLACK_API_URL")
    with pytest.raises(ConfigError, match=r"\[slack\] api_url"):
        SlackChannel().check_settings({"api_url": url}, "kpi.toml")


def test_the_api_url_can_be_set_in_kpi_toml(slack_server, monkeypatch):
    """``[slack] api_url`` (GovSlack, a proxy) is used when the environment does not set one."""
    from kpicore.channels.slack import api_url

    assert api_url() == slack_server.base_url  # the environment wins
    monkeypatch.delenv("KPI_SLACK_API_URL")
    assert api_url() == "https://slack.com/api/"
    assert api_url({"api_url": "https://slack-gov.com/api"}) == "https://slack-gov.com/api/"
    channel = SlackChannel()
    delivery = channel.send(outgoing(), "#kpis", {"api_url": slack_server.base_url, "charts": "off"})
    assert delivery.message_ids and slack_server.fake.messages


def test_the_holder_of_a_resumed_send_deletes_a_second_copy_of_a_part(slack):
    """A sender paused between its claim check and its post delivered part 1 after the holder took over:
    the holder, finishing its resumed send, keeps the copy it recorded and deletes the other (chat.delete)."""
    from kpicore.channels.slack import delivery_key, find_copies, make_client, post_part

    message = outgoing()
    key = delivery_key(message, "slack:#kpis")
    payload = message.rendered("slack").messages[0]
    client = make_client(FAST)
    parts = len(message.rendered("slack").messages)
    for _ in range(2):  # the holder's copy and the paused sender's late one
        post_part(client, client, "C0KPIS0001", payload, key, 1, parts, FAST)
    delivery = SlackChannel().resume(message, "#kpis", FAST, previous=[])
    copies = find_copies(client, "C0KPIS0001", key)
    assert copies == {1: [delivery.message_ids[0].split(":", 1)[1]]}
    assert len(slack.deleted) == 1 and len(slack.calls("chat.delete")) == 1
    assert len([m for m in slack.posted_to("C0KPIS0001") if m.get("metadata")]) == parts


def test_the_holder_of_a_resumed_send_deletes_a_chart_shared_twice(slack):
    """A sender paused between its claim check and its files.completeUploadExternal shared a chart in
    the thread after the holder took over: the holder, finishing its resumed send, keeps the copy it
    recorded and deletes the other (files.delete), the other charts untouched."""
    from kpicore.channels.slack import make_client

    message = outgoing()
    first = SlackChannel().send(message, "#kpis", FAST)
    thread = slack.posted_to("C0KPIS0001")[0]["ts"]
    charts = {id: (f["title"], f["filename"], f["data"]) for id, f in slack.files.items()}
    title, filename, png = next(iter(charts.values()))
    late = make_client(FAST).files_upload_v2(  # the paused sender's copy, as slack_sdk uploads one
        channel="C0KPIS0001",
        thread_ts=thread,
        file_uploads=[{"content": png, "filename": filename, "title": title}],
    )
    assert len(slack.shared_files("C0KPIS0001")) == len(charts) + 1
    delivery = SlackChannel().resume(message, "#kpis", FAST, previous=[])
    assert list(slack.deleted_files) == [late["file"]["id"]] and len(slack.calls("files.delete")) == 1
    assert {id for id, f in slack.files.items() if f["completed"]} == set(charts)
    files = [i for i in delivery.message_ids if i.startswith("file:")]
    assert sorted(files) == sorted(i for i in first.message_ids if i.startswith("file:"))
    assert len(slack.posted_to("C0KPIS0001")) == len(message.rendered("slack").messages)  # none again
