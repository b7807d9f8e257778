"""The loopback Bot API answers as Telegram documents it, through the plugin's real client: limits,
HTML parsing, albums, flood control, a second poller, webhooks and callback queries."""

from __future__ import annotations

import threading

import pytest
from kpicore_telegram.api import BotApi, TelegramError
from telegram_server import TOKEN

GROUP = -1001000000001
PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 32


def client(server, **options) -> BotApi:
    options.setdefault("max_retries", 0)
    return BotApi(TOKEN, server.api_base, sleep=lambda s: None, **options)


def refused(call) -> TelegramError:
    with pytest.raises(TelegramError) as caught:
        call()
    return caught.value


def test_send_message_counts_the_text_after_parsing_and_refuses_what_telegram_refuses(telegram):
    api = client(telegram)
    # 4,096 visible characters, more than 4,096 in the request: accepted.
    sent = api.call(
        "sendMessage", {"chat_id": GROUP, "text": "<b>" + "&amp;" * 4096 + "</b>", "parse_mode": "HTML"}
    )
    assert telegram.fake.in_chat(GROUP)[0]["text"] == "&" * 4096 and sent["message_id"] == 1
    # UTF-16 units: an emoji outside the BMP counts twice.
    error = refused(lambda: api.call("sendMessage", {"chat_id": GROUP, "text": "📈" * 2049}))
    assert (error.code, error.description) == (400, "Bad Request: message is too long")
    error = refused(
        lambda: api.call("sendMessage", {"chat_id": GROUP, "text": "a < b", "parse_mode": "HTML"})
    )
    assert error.code == 400 and "can't parse entities" in error.description
    error = refused(
        lambda: api.call("sendMessage", {"chat_id": GROUP, "text": "<div>x</div>", "parse_mode": "HTML"})
    )
    assert 'Unsupported start tag "div"' in error.description
    error = refused(lambda: api.call("sendMessage", {"chat_id": 777, "text": "x"}))
    assert (error.code, error.description) == (400, "Bad Request: chat not found")
    api.call("sendMessage", {"chat_id": "@kpi_news", "text": "by username"})
    assert telegram.fake.in_chat(-1001000000002)[0]["text"] == "by username"
    error = refused(lambda: BotApi("1:wrong", telegram.api_base, max_retries=0).call("getMe", {}))
    assert (error.code, error.description) == (401, "Unauthorized")


def test_photos_and_albums_check_captions_sizes_and_attachments(telegram):
    api = client(telegram)
    files = {f"c{i}": (f"c{i}.png", PNG) for i in range(11)}
    api.call("sendPhoto", {"chat_id": GROUP, "photo": "attach://c0", "caption": "x" * 1024}, files)
    error = refused(
        lambda: api.call(
            "sendPhoto", {"chat_id": GROUP, "photo": "attach://c0", "caption": "x" * 1025}, files
        )
    )
    assert error.description == "Bad Request: message caption is too long"
    error = refused(lambda: api.call("sendPhoto", {"chat_id": GROUP, "photo": "attach://nope"}, files))
    assert error.code == 400
    media = [{"type": "photo", "media": f"attach://c{i}"} for i in range(11)]
    for count in (1, 11):
        error = refused(
            lambda count=count: api.call("sendMediaGroup", {"chat_id": GROUP, "media": media[:count]}, files)
        )
        assert error.description == "Bad Request: media must include 2-10 items"
    album = api.call("sendMediaGroup", {"chat_id": GROUP, "media": media[:3]}, files)
    assert len(album) == 3 and len({m["media_group_id"] for m in album}) == 1


def test_flood_control_answers_429_with_retry_after_which_the_client_waits_for(telegram):
    waits = []
    telegram.fake.rate_limit_next, telegram.fake.retry_after = 2, 7
    error = refused(lambda: client(telegram).call("sendMessage", {"chat_id": GROUP, "text": "x"}))
    assert (error.code, error.retry_after) == (429, 7)
    api = BotApi(TOKEN, telegram.api_base, max_retries=3, sleep=waits.append)
    api.call("sendMessage", {"chat_id": GROUP, "text": "once"})
    assert waits == [7] and [m["text"] for m in telegram.fake.in_chat(GROUP)] == ["once"]
    telegram.fake.fail_next = 2
    api.call("sendMessage", {"chat_id": GROUP, "text": "after 5xx"})
    assert waits == [7, 0.5, 1.0] and len(telegram.fake.in_chat(GROUP)) == 2


def test_a_second_poller_ends_the_first_with_409_and_a_webhook_blocks_polling(telegram):
    api = client(telegram, timeout=10)
    outcome = {}

    def first():
        try:
            outcome["first"] = api.call("getUpdates", {"timeout": 5})
        except TelegramError as error:
            outcome["first"] = error

    thread = threading.Thread(target=first)
    thread.start()
    while not telegram.fake.calls("getUpdates"):
        threading.Event().wait(0.01)
    assert api.call("getUpdates", {"timeout": 0}) == []  # the second poller
    thread.join(10)
    assert isinstance(outcome["first"], TelegramError), outcome
    assert outcome["first"].code == 409 and "terminated by other getUpdates" in outcome["first"].description
    update_id = telegram.fake.push(
        {"message": {"message_id": 1, "chat": {"id": 42, "type": "private"}, "text": "/kpi"}}
    )
    updates = api.call("getUpdates", {"timeout": 1})
    assert [u["update_id"] for u in updates] == [update_id]
    assert api.call("getUpdates", {"offset": update_id + 1, "timeout": 0}) == []
    error = refused(lambda: api.call("setWebhook", {"url": "http://kpi.example.com/telegram/webhook"}))
    assert "HTTPS URL must be provided" in error.description
    error = refused(lambda: api.call("setWebhook", {"url": "https://kpi.example.com:8080/telegram/webhook"}))
    assert "ports 80, 88, 443 or 8443" in error.description
    assert api.call(
        "setWebhook", {"url": "https://kpi.example.com/telegram/webhook", "secret_token": "s3cret"}
    )
    error = refused(lambda: api.call("getUpdates", {}))
    assert error.code == 409 and "webhook is active" in error.description
    assert api.call("deleteWebhook", {}) is True
    assert api.call("getUpdates", {"offset": update_id + 1}) == []


def test_callback_queries_are_answered_once(telegram):
    api = client(telegram)
    telegram.fake.push({"callback_query": {"id": "cq1", "data": "/kpi nps", "from": {"id": 42}}})
    assert api.call("answerCallbackQuery", {"callback_query_id": "cq1"}) is True
    error = refused(lambda: api.call("answerCallbackQuery", {"callback_query_id": "cq1"}))
    assert "query ID is invalid" in error.description
