"""/kpi on Telegram through real `kpi serve` processes: long polling and the webhook answer as on Slack
(the same answerer, [chat] allow keyed telegram:CHAT_ID, follow-ups as inline buttons), each update
once; the webhook refuses a wrong, missing or repeated secret and a body over 1 MB, running nothing;
`kpi telegram set-webhook` / `delete-webhook` switch Telegram between the two."""

from __future__ import annotations

import http.client
import json

from telegram_kpi import kpi_env, run_kpi

from tests.chat_support import wait_for
from tests.test_serve import Serve

PRIVATE, GROUP = 42, -1001000000001
SECRET = "webhook-secret-do-not-leak"


def write_config(folder, demo_database, telegram, *, mode="polling", allow=""):
    (folder / "kpi.toml").write_text(
        f"""state_url = "sqlite:///{folder / "state.db"}"
timezone = "UTC"
[source]
url = "sqlite:///{demo_database}"
[channels.telegram]
api_base = "{telegram.api_base}"
mode = "{mode}"
poll_timeout = 1
retry_backoff = 0.01
[chat]
{allow}
""",
        encoding="utf-8",
    )


def message_update(text, chat=PRIVATE, user=PRIVATE, update_id=None):
    update = {
        "message": {
            "message_id": 7,
            "from": {"id": user},
            "chat": {"id": chat, "type": "private" if chat > 0 else "supergroup"},
            "text": text,
        }
    }
    if update_id is not None:
        update["update_id"] = update_id
    return update


def test_polling_answers_kpi_with_buttons_and_a_button_press_answers_again(
    tmp_path, demo_database, telegram, servers
):
    write_config(tmp_path, demo_database, telegram)
    serve = Serve(tmp_path, kpi_env())
    servers.append(serve)
    serve.started()
    fake = telegram.fake
    fake.push(message_update("/kpi nps 2026-W47"))
    (answer,) = wait_for(lambda: fake.in_chat(PRIVATE))
    assert answer["text"].startswith("Net Promoter Score") and "2026-W47" in answer["text"]
    buttons = [row[0] for row in answer["reply_markup"]["inline_keyboard"]]
    previous = next(b for b in buttons if "W46" in b["text"])
    fake.push(
        {
            "callback_query": {
                "id": "cq1",
                "from": {"id": PRIVATE},
                "data": previous["callback_data"],
                "message": {"message_id": 1, "chat": {"id": PRIVATE, "type": "private"}},
            }
        }
    )
    wait_for(lambda: len(fake.in_chat(PRIVATE)) == 2)
    assert "2026-W46" in fake.in_chat(PRIVATE)[1]["text"] and fake.callback_queries["cq1"] is True
    fake.push(message_update("/kpi@another_bot nps"))
    fake.push(message_update("/kpi@kpicore_test_bot chrun"))
    wait_for(lambda: len(fake.in_chat(PRIVATE)) == 3)
    assert "churn_rate" in fake.in_chat(PRIVATE)[2]["text"]  # the same help on bad input as on Slack
    serve.stop(timeout=120)  # the answerer finishes its insight jobs first (statsmodels loads slowly)
    assert TOKEN_NOT_IN(serve.text())


def test_the_help_in_a_group_does_not_promise_a_private_answer(tmp_path, demo_database, telegram, servers):
    write_config(tmp_path, demo_database, telegram)
    serve = Serve(tmp_path, kpi_env())
    servers.append(serve)
    serve.started()
    fake = telegram.fake
    fake.push(message_update("/kpi help"))
    fake.push(message_update("/kpi help", chat=GROUP))
    (private,) = wait_for(lambda: fake.in_chat(PRIVATE))
    (group,) = wait_for(lambda: fake.in_chat(GROUP))
    assert "Only you see the answer" in private["text"] and "Everyone" not in private["text"]
    assert "Everyone in this conversation sees the answer" in group["text"], group["text"]
    assert "Only you" not in group["text"]
    serve.stop(timeout=120)


def TOKEN_NOT_IN(text):
    from telegram_server import TOKEN

    return TOKEN not in text and TOKEN.split(":")[1] not in text


def test_chat_allow_is_keyed_by_the_telegram_chat(tmp_path, demo_database, telegram, servers):
    write_config(
        tmp_path,
        demo_database,
        telegram,
        allow=f'allow = {{ "telegram:{GROUP}" = ["revenue"], "*" = ["nps"] }}',
    )
    serve = Serve(tmp_path, kpi_env())
    servers.append(serve)
    serve.started()
    telegram.fake.push(message_update("/kpi revenue 2026-W47", chat=GROUP))
    telegram.fake.push(message_update("/kpi revenue 2026-W47", chat=PRIVATE))
    wait_for(lambda: telegram.fake.in_chat(GROUP) and telegram.fake.in_chat(PRIVATE))
    assert telegram.fake.in_chat(GROUP)[0]["text"].startswith("Revenue")
    refused = telegram.fake.in_chat(PRIVATE)[0]["text"]
    assert "Revenue" not in refused.splitlines()[0] and "$" not in refused


def post(port, body: bytes, headers):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest("POST", "/telegram/webhook")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(len(body)))
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders(body)
        return connection.getresponse().status
    finally:
        connection.close()


def test_the_webhook_checks_its_secret_and_size_and_handles_each_update_once(
    tmp_path, demo_database, telegram, servers
):
    write_config(tmp_path, demo_database, telegram, mode="webhook")
    serve = Serve(tmp_path, kpi_env(TELEGRAM_WEBHOOK_SECRET=SECRET))
    servers.append(serve)
    serve.started()
    body = json.dumps(message_update("/kpi nps 2026-W47", update_id=5001)).encode()
    header = "X-Telegram-Bot-Api-Secret-Token"
    assert post(serve.port, body, []) == 401
    assert post(serve.port, body, [(header, "wrong")]) == 401
    assert post(serve.port, body, [(header, SECRET), (header, SECRET)]) == 400
    assert post(serve.port, b"{" + b" " * (1024 * 1024) + b"}", [(header, SECRET)]) == 413
    assert telegram.fake.messages == []  # nothing ran
    assert post(serve.port, body, [(header, SECRET)]) == 200
    assert post(serve.port, body, [(header, SECRET)]) == 200  # Telegram redelivering the same update
    assert len(telegram.fake.in_chat(PRIVATE)) == 1
    assert telegram.fake.calls("getUpdates") == []  # webhook mode does not poll
    serve.stop(timeout=120)  # the answerer finishes its insight jobs first (statsmodels loads slowly)
    assert SECRET not in serve.text()


def test_set_webhook_and_delete_webhook(tmp_path, demo_database, telegram):
    write_config(tmp_path, demo_database, telegram)
    result = run_kpi(tmp_path, "telegram", "set-webhook", "https://kpi.example.com/telegram/webhook")
    assert "TELEGRAM_WEBHOOK_SECRET is not set" in result.stderr
    env = kpi_env(TELEGRAM_WEBHOOK_SECRET=SECRET)
    result = run_kpi(tmp_path, "telegram", "set-webhook", "https://kpi.example.com:8080/hook", env=env)
    assert result.returncode != 0 and "ports 80, 88, 443 or 8443" in result.stderr
    result = run_kpi(tmp_path, "telegram", "set-webhook", "https://kpi.example.com/telegram/webhook", env=env)
    assert result.returncode == 0, result.stderr
    assert telegram.fake.webhook == {
        "url": "https://kpi.example.com/telegram/webhook",
        "secret_token": SECRET,
    }
    assert SECRET not in result.stdout + result.stderr
    result = run_kpi(tmp_path, "telegram", "delete-webhook", env=env)
    assert result.returncode == 0 and telegram.fake.webhook is None


def test_two_processes_on_one_state_database_poll_with_one_lease(tmp_path, demo_database, telegram, servers):
    write_config(tmp_path, demo_database, telegram)
    for name in ("first", "second"):
        serve = Serve(tmp_path, kpi_env(), name=name)
        servers.append(serve)
        serve.started()
    for user in (101, 102, 103):
        telegram.fake.chats[user] = {"id": user, "type": "private"}
        telegram.fake.push(message_update("/kpi nps 2026-W47", chat=user, user=user))
    wait_for(lambda: all(telegram.fake.in_chat(user) for user in (101, 102, 103)))
    assert [len(telegram.fake.in_chat(user)) for user in (101, 102, 103)] == [1, 1, 1]
    conflicts = [r for r in telegram.fake.calls("getUpdates") if r.status == 409]
    assert conflicts == []  # only the lease holder polls: Telegram never saw a second poller


def test_kpi_follow_sends_a_personal_message_to_the_private_chat_once(
    tmp_path, demo_database, telegram, servers
):
    """/kpi follow in the group keeps the follow in the same store as Slack's, keyed telegram:USER_ID,
    and the personal message goes to that user's private chat with the bot, once per period."""
    from kpicore.follows import following
    from kpicore.state import open_state
    from tests.test_serve import deliveries

    write_config(
        tmp_path, demo_database, telegram, allow='follow_schedule = "1s"\nfollow_period = "2026-W47"'
    )
    serve = Serve(tmp_path, kpi_env())
    servers.append(serve)
    serve.started()
    fake = telegram.fake
    fake.push(message_update("/kpi follow nps", chat=GROUP, user=PRIVATE))
    (answer,) = wait_for(lambda: fake.in_chat(GROUP))
    assert answer["text"].startswith("You now follow Net Promoter Score"), answer["text"]
    engine = open_state(f"sqlite:///{tmp_path / 'state.db'}")
    ((user, metric, channel),) = [(f.user_id, f.metric, f.channel_id) for f in following(engine)]
    assert (user, metric, channel) == (f"telegram:{PRIVATE}", "nps", f"telegram:{GROUP}")
    personal = wait_for(lambda: [m for m in fake.in_chat(PRIVATE) if "Net Promoter Score" in m["text"]], 60)
    assert "Your KPIs" in personal[0]["text"] and "2026-W47" in personal[0]["text"]
    fake.push(message_update("/kpi following", chat=PRIVATE))
    wait_for(lambda: any("You follow 1 metric" in m["text"] for m in fake.in_chat(PRIVATE)))
    serve.wait_for(r"delivered .*personal=telegram:42", timeout=30)
    import time

    time.sleep(3)  # three more fires of the 1 s schedule: the period is already sent
    rows = [r for r in deliveries(f"sqlite:///{tmp_path / 'state.db'}") if r[0] == "personal"]
    assert rows == [("personal", f"telegram:{PRIVATE}", "2026-W47", f"telegram:{PRIVATE}", "sent", 1)]
    assert len([m for m in fake.in_chat(PRIVATE) if "Your KPIs" in m["text"]]) == 1
    fake.push(message_update("/kpi unfollow nps", chat=PRIVATE))
    wait_for(lambda: any("no longer follow" in m["text"] for m in fake.in_chat(PRIVATE)))
    assert following(engine) == []
    engine.dispose()
