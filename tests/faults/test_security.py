"""Abuse of a real `kpi serve`: /kpi at POST /slack/events answers only requests signed with
SLACK_SIGNING_SECRET, fresh (5 minutes) and seen once; forged, missing, stale and replayed signatures
get 401 and run nothing. Slash text and mapping-like words never reach SQL as text. The secrets of the
run never appear in its log or its answers."""

from __future__ import annotations

import json
import time

from tests.chat_support import SIGNING_SECRET, command_body, send, signature
from tests.conftest import SLACK_TOKEN
from tests.test_serve import Serve, environment, write_config

INJECTIONS = [
    "nps 2026-W47'; DROP TABLE orders; --",
    'revenue by region" OR 1=1 --',
    "revenue 2026-W47 by customer_id); DELETE FROM orders; --",
    "nps ' UNION SELECT * FROM sqlite_master --",
]


def test_signatures_and_injection_against_a_real_kpi_serve(tmp_path, demo_database, slack_server, servers):
    import sqlite3

    write_config(tmp_path, demo_database, schedule='schedule = "0 9 29 2 *"')
    env = environment(slack_server)
    env["SLACK_SIGNING_SECRET"] = SIGNING_SECRET
    serve = Serve(tmp_path, env)
    servers.append(serve)
    serve.started()
    url = f"http://127.0.0.1:{serve.port}/slack/events"
    body = command_body("help")
    now = int(time.time())

    good = send(url, body, timestamp=now)
    assert good.status == 200 and "/kpi" in good.text
    assert send(url, body, timestamp=now).status == 401  # the same request again: a replay
    assert send(url, command_body("help"), sign_with="not-the-secret").status == 401  # forged
    assert send(url, command_body("help"), sign_with=None).status == 401  # missing
    assert send(url, command_body("help"), signature_header="v0=").status == 401  # empty
    stale = int(time.time()) - 10 * 60
    assert send(url, command_body("help"), timestamp=stale).status == 401  # signed, but 10 minutes old
    signed_at = int(time.time())
    original = command_body("help")  # signed, then the text changed in transit
    assert (
        send(
            url,
            original.replace("help", "nps"),
            timestamp=signed_at,
            signature_header=signature(original, signed_at),
        ).status
        == 401
    )

    orders_before = sqlite3.connect(demo_database).execute("SELECT count(*) FROM orders").fetchone()[0]
    for text in INJECTIONS:
        answer = send(url, command_body(text))
        assert answer.status == 200, text  # an answer or help, never a server error
        shown = json.dumps(answer.body)
        assert "Traceback" not in shown and "syntax error" not in shown.lower(), (text, shown)
    orders_after = sqlite3.connect(demo_database).execute("SELECT count(*) FROM orders").fetchone()[0]
    assert orders_after == orders_before
    assert serve.stop() == 0
    log = serve.text()
    assert "chat http=/slack/events" in log
    for secret in (SIGNING_SECRET, SLACK_TOKEN):
        assert secret not in log
    assert "Traceback" not in log
