"""/healthz of a real `kpi serve` while Telegram polling fails: ``degraded`` with the reason while the
Bot API is down or answers 409 (a webhook is set), ``ok`` again once polling recovers; one log line
per outage, not one per attempt; the digests keep firing throughout."""

from __future__ import annotations

import json
import re

from telegram_kpi import kpi_env
from test_telegram_chat import PRIVATE, message_update

from tests.chat_support import wait_for
from tests.test_serve import Serve


def health(serve):
    status, body = serve.get("/healthz")
    return status, json.loads(body)


def fires(serve) -> float:
    _, body = serve.get("/metrics")
    match = re.search(rb'kpicore_fires_total\{kind="digest",name="weekly"\} ([0-9.]+)', body)
    return float(match.group(1)) if match else 0.0


def test_healthz_is_degraded_while_polling_fails_and_ok_when_it_recovers(
    tmp_path, demo_database, telegram, servers
):
    (tmp_path / "kpi.toml").write_text(
        f"""state_url = "sqlite:///{tmp_path / "state.db"}"
timezone = "UTC"
[source]
url = "sqlite:///{demo_database}"
[channels.telegram]
api_base = "{telegram.api_base}"
poll_timeout = 1
retry_backoff = 0.01
max_retries = 1
[serve]
tick = "1s"
lease = "5s"
[digests.weekly]
metrics = ["nps"]
period = "2026-W47"
every = "1s"
destinations = ["file:./out"]
""",
        encoding="utf-8",
    )
    fake = telegram.fake
    serve = Serve(tmp_path, kpi_env())
    servers.append(serve)
    serve.started()
    wait_for(lambda: fake.calls("getUpdates"))
    serve.wait_for(r"delivered digest=weekly", timeout=90)  # the first fire (catch-up) is sent
    assert health(serve)[1]["status"] == "ok"

    for outage, reason in (("webhook", "409 Conflict: can't use getUpdates"), ("down", "502 Bad Gateway")):
        before = fires(serve)
        if outage == "webhook":
            fake.webhook = {"url": "https://kpi.example.com/telegram/webhook", "secret_token": "s"}
        else:
            fake.down = True
        _, answer = wait_for(lambda: (h := health(serve))[1]["status"] == "degraded" and h, timeout=30)
        assert answer["serving"] is True and answer["scheduler"] == "running"
        (problem,) = answer["problems"]
        assert problem["kind"] == "telegram_polling" and reason in problem["message"], problem
        if outage == "webhook":
            assert "kpi telegram delete-webhook" in problem["message"]
        failed = len([r for r in fake.calls("getUpdates") if r.status != 200])
        wait_for(lambda f=failed: len([r for r in fake.calls("getUpdates") if r.status != 200]) >= f + 2, 30)
        assert health(serve)[0] == 200  # degraded, still serving
        wait_for(lambda b=before: fires(serve) >= b + 2, 30)  # the digest kept firing through the outage
        fake.webhook, fake.down = None, False
        wait_for(lambda: health(serve)[1]["status"] == "ok", timeout=40)

    fake.push(message_update("/kpi nps 2026-W47"))
    wait_for(lambda: fake.in_chat(PRIVATE), 30)  # polling answers again
    log = serve.text()
    assert log.count("telegram_polling_down") == 2, log  # one line per outage, not per attempt
    assert log.count("telegram_polling_up") == 2
