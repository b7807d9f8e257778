"""Replays of signed /kpi requests against real `kpi serve` processes: a repeated signature or timestamp
header is 400, ten copies of one request sent at once are accepted once, two processes sharing a
PostgreSQL state database refuse each other's replays, and a guard whose database is gone refuses (503)."""

from __future__ import annotations

import http.client
import time
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from tests.chat_support import SIGNING_SECRET, command_body, send, signature, wait_for
from tests.test_serve import POSTGRES_SERVER, Serve, environment, pg_state_url, write_config

__all__ = ["pg_state_url"]  # the fixture, imported for these tests

GENERAL = "C0GENERAL3"


def _serve(tmp_path, demo_database, slack_server, servers, state_url=None, name="serve") -> Serve:
    if not (tmp_path / "kpi.toml").exists():
        write_config(tmp_path, demo_database, state_url=state_url, schedule='schedule = "0 9 29 2 *"')
    env = environment(slack_server)
    env["SLACK_SIGNING_SECRET"] = SIGNING_SECRET
    serve = Serve(tmp_path, env, name=name)
    servers.append(serve)
    return serve.started()


def _post_with_headers(port: int, body: str, headers: list[tuple[str, str]]) -> int:
    """POST ``body`` with exactly these headers (repeats kept, as urllib cannot send them)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("POST", "/slack/events")
        connection.putheader("Content-Type", "application/x-www-form-urlencoded")
        connection.putheader("Content-Length", str(len(body.encode())))
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders(body.encode())
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _share(slack) -> str:
    return command_body("nps 2026-W47 share", response_url=slack.response_url("share"))


def test_a_repeated_signature_or_timestamp_header_is_400_and_runs_nothing(
    tmp_path, demo_database, slack_server, servers
):
    slack = slack_server.fake
    serve = _serve(tmp_path, demo_database, slack_server, servers)
    body, now = _share(slack), int(time.time())
    good = signature(body, now)
    junk = signature(body + "x", now)
    attempts = [
        [("X-Slack-Request-Timestamp", str(now)), ("X-Slack-Signature", junk), ("X-Slack-Signature", good)],
        [("X-Slack-Request-Timestamp", str(now)), ("X-Slack-Signature", good), ("X-Slack-Signature", junk)],
        [("X-Slack-Request-Timestamp", str(now)), ("X-Slack-Signature", good), ("X-Slack-Signature", good)],
        [
            ("X-Slack-Request-Timestamp", "1"),
            ("X-Slack-Request-Timestamp", str(now)),
            ("X-Slack-Signature", good),
        ],
    ]
    assert [_post_with_headers(serve.port, body, headers) for headers in attempts] == [400] * 4
    assert slack.posted_to(GENERAL) == [] and slack.requests == []
    # None of them claimed the signature: the request itself still runs, once.
    assert send(f"http://127.0.0.1:{serve.port}/slack/events", body, timestamp=now).status == 200
    wait_for(lambda: slack.posted_to(GENERAL))
    assert _post_with_headers(serve.port, body, attempts[0]) == 400
    assert send(f"http://127.0.0.1:{serve.port}/slack/events", body, timestamp=now).status == 401
    assert serve.stop() == 0
    assert len(slack.posted_to(GENERAL)) == 1
    assert "repeated signature or timestamp header" in serve.text()


def test_ten_copies_of_one_signed_request_at_once_are_accepted_once(
    tmp_path, demo_database, slack_server, servers
):
    slack = slack_server.fake
    serve = _serve(tmp_path, demo_database, slack_server, servers)
    url = f"http://127.0.0.1:{serve.port}/slack/events"
    body, now = _share(slack), int(time.time())
    forged = send(url, body.replace("share", "chart"), signature_header=signature(body, now), timestamp=now)
    assert forged.status == 401  # a captured signature on another body claims nothing
    with ThreadPoolExecutor(10) as pool:
        statuses = sorted(pool.map(lambda _: send(url, body, timestamp=now).status, range(10)))
    assert statuses == [200] + [401] * 9
    wait_for(lambda: slack.posted_to(GENERAL))
    assert serve.stop() == 0
    assert len(slack.posted_to(GENERAL)) == 1


def test_two_processes_on_one_postgresql_refuse_each_others_replays(
    tmp_path, demo_database, slack_server, servers, pg_state_url
):
    slack = slack_server.fake
    first = _serve(tmp_path, demo_database, slack_server, servers, pg_state_url, name="first")
    second = _serve(tmp_path, demo_database, slack_server, servers, pg_state_url, name="second")
    body, now = _share(slack), int(time.time())
    assert send(f"http://127.0.0.1:{first.port}/slack/events", body, timestamp=now).status == 200
    assert send(f"http://127.0.0.1:{second.port}/slack/events", body, timestamp=now).status == 401
    with ThreadPoolExecutor(10) as pool:  # a fresh request, copies spread over both processes
        other, at = _share(slack), int(time.time())
        ports = [first.port, second.port] * 5
        statuses = sorted(
            pool.map(
                lambda port: send(f"http://127.0.0.1:{port}/slack/events", other, timestamp=at).status, ports
            )
        )
    assert statuses == [200] + [401] * 9
    wait_for(lambda: len(slack.posted_to(GENERAL)) == 2)
    assert first.stop() == 0 and second.stop() == 0
    assert len(slack.posted_to(GENERAL)) == 2

    # The state database gone: the guard cannot tell a replay, so the request is refused.
    name = pg_state_url.rsplit("/", 1)[1]
    third = _serve(tmp_path, demo_database, slack_server, servers, pg_state_url, name="third")
    server = sa.create_engine(f"{POSTGRES_SERVER}/test", isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    server.dispose()
    fresh = _share(slack)
    assert send(f"http://127.0.0.1:{third.port}/slack/events", fresh).status == 503
    third.stop()
    assert "the replay guard's state database failed" in third.text()
    assert len(slack.posted_to(GENERAL)) == 2
