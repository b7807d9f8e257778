"""The guarantees kept against an attacker and a frozen process, counted for the fault table: replays
(a repeated signature header, ten copies at once), three 200 MB bodies at once, a sender
frozen past its lease on PostgreSQL, and SIGKILLs on either side of the SMTP DATA.

``KPI_FAULTS_GUARANTEE_RUNS`` (default 3, so that ``make faults`` stays within 15 minutes; the figures in
docs/reliability.md are from 20) sets the runs of every scenario here.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.chat_support import SIGNING_SECRET, send, signature, wait_for
from tests.faults import tally
from tests.faults.harness import expected_keys, settle, write_config
from tests.test_chat_replays import GENERAL, _post_with_headers, _share
from tests.test_serve import Serve, environment
from tests.test_serve_body_limit import MB, _memory, _post_big

RUNS = int(os.environ.get("KPI_FAULTS_GUARANTEE_RUNS", "3"))
EMAIL = "email:owner@example.com"
REQUEST_KEY = ("request", "share", "-", "slack:#general")


def _serve(folder, slack_server, name="serve", **extra_env) -> Serve:
    env = environment(slack_server)
    env["SLACK_SIGNING_SECRET"] = SIGNING_SECRET
    env.update(extra_env)
    return Serve(folder, env, name=name)


def _record_shares(scenario: str, run: str, slack) -> tally.Count:
    posts = len(slack.posted_to(GENERAL))
    [count] = tally.count(scenario, run, [REQUEST_KEY], {REQUEST_KEY: "sent"}, arrived={REQUEST_KEY: posts})
    tally.record([count])
    return count


def test_replays_with_a_repeated_signature_header(tmp_path, demo_database, slack_server, servers):
    slack = slack_server.fake
    write_config(
        tmp_path, demo_database, state_url=f"sqlite:///{tmp_path / 's.db'}", destinations=["stdout:"], when=""
    )
    serve = _serve(tmp_path, slack_server)
    servers.append(serve)
    serve.started()
    for run in range(RUNS):  # each run: one signed share, then four replays with a junk header first
        slack.messages.clear()
        body, now = _share(slack), int(time.time())
        good, junk = signature(body, now), signature(body + "x", now)
        assert send(f"http://127.0.0.1:{serve.port}/slack/events", body, timestamp=now).status == 200
        wait_for(lambda: slack.posted_to(GENERAL))
        statuses = [
            _post_with_headers(
                serve.port,
                body,
                [
                    ("X-Slack-Request-Timestamp", str(now)),
                    ("X-Slack-Signature", junk),
                    ("X-Slack-Signature", good),
                ],
            )
            for _ in range(4)
        ]
        count = _record_shares("replay with a repeated signature header (4 tries)", str(run), slack)
        assert statuses == [400] * 4 and (count.delivered, count.duplicated) == (1, 0)
    assert serve.stop(timeout=90) == 0


def test_ten_parallel_copies_of_one_signed_request(
    tmp_path, demo_database, slack_server, servers, pg_state_url
):
    slack = slack_server.fake
    write_config(tmp_path, demo_database, state_url=pg_state_url, destinations=["stdout:"], when="")
    first, second = _serve(tmp_path, slack_server, "a"), _serve(tmp_path, slack_server, "b")
    servers.extend([first, second])
    first.started(), second.started()
    for run in range(RUNS):
        slack.messages.clear()
        body, now = _share(slack), int(time.time())
        ports = [first.port, second.port] * 5
        with ThreadPoolExecutor(10) as pool:
            statuses = list(
                pool.map(
                    lambda p, b=body, t=now: (
                        send(f"http://127.0.0.1:{p}/slack/events", b, timestamp=t).status
                    ),
                    ports,
                )
            )
        wait_for(lambda: slack.posted_to(GENERAL))
        time.sleep(0.5)  # a second accepted copy would post within the answer budget
        count = _record_shares("10 parallel copies of a signed request, 2 processes", str(run), slack)
        assert sorted(statuses) == [200] + [401] * 9 and count.duplicated == 0
    assert first.stop(timeout=90) == 0 and second.stop(timeout=90) == 0


def test_three_200_mb_bodies_at_once(tmp_path, demo_database, slack_server, servers):
    state_url = f"sqlite:///{tmp_path / 's.db'}"
    write_config(tmp_path, demo_database, state_url=state_url, destinations=["slack:#kpis"])
    serve = _serve(tmp_path, slack_server)
    servers.append(serve)
    serve.started()
    statuses = settle(state_url, ["slack:#kpis"])  # the digest's own compute and charts come first
    pid = serve.process.pid
    rises = []
    for _ in range(RUNS):  # each run: three 200 MB posts at once, the peak RSS measured from idle
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # peak RSS from here
        idle = _memory(pid)["VmRSS"]
        answers: list[int] = []
        threads = [
            threading.Thread(target=lambda c=chunked, a=answers: a.append(_post_big(serve.port, chunked=c)))
            for chunked in (True, True, False)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        rises.append(_memory(pid)["VmHWM"] - idle)
        assert answers == [413] * 3 and rises[-1] < 20 * MB
    assert serve.get("/healthz")[0] == 200
    assert serve.stop(timeout=90) == 0
    counts = tally.count(
        f"{RUNS} x 3 x 200 MB bodies at once (413; peak RSS at most +{max(rises) / MB:.1f} MB)",
        "1",
        expected_keys(["slack:#kpis"]),
        statuses,
        slack=slack_server.fake,
    )
    tally.record(counts)
    assert counts[0].duplicated == 0


@pytest.mark.parametrize("run", range(RUNS))
def test_a_sender_paused_past_its_lease(tmp_path, demo_database, slack_server, servers, pg_state_url, run):
    slack = slack_server.fake
    write_config(tmp_path, demo_database, state_url=pg_state_url, destinations=["slack:#kpis"])
    frozen = _serve(tmp_path, slack_server, "frozen")
    servers.append(frozen)
    slack.stop_on_post = frozen.process.pid
    wait_for(lambda: slack.stop_on_post is None, 60)
    try:
        peer = _serve(tmp_path, slack_server, "peer")
        servers.append(peer)
        peer.started()
        settle(pg_state_url, ["slack:#kpis"], timeout=90)
    finally:
        frozen.process.send_signal(signal.SIGCONT)
    frozen.wait_for(r"the claim was taken over", 60)
    assert peer.stop(timeout=90) == 0 and frozen.stop(timeout=90) == 0
    statuses = tally.ledger_statuses(pg_state_url)
    counts = tally.count(
        "sender frozen (SIGSTOP) past its lease, 2 processes on PostgreSQL",
        str(run),
        expected_keys(["slack:#kpis"]),
        statuses,
        slack=slack,
    )
    charts = _chart_counts("sender frozen (SIGSTOP) past its lease: the charts", str(run), slack)
    tally.record(counts + charts)
    assert (counts[0].delivered, counts[0].duplicated) == (1, 0)
    assert [(c.delivered, c.duplicated) for c in charts] == [(1, 0), (1, 0)]


def _chart_counts(scenario: str, run: str, slack) -> list[tally.Count]:
    """One Count per chart title in #kpis: copies shared and not deleted (``status`` says how many
    second copies were deleted after being shared, and how many uploads were deleted unshared)."""
    shared: dict[str, int] = {}
    for item in slack.shared_files(tally.SLACK_IDS["#kpis"]):
        shared[item["title"]] = shared.get(item["title"], 0) + 1
    gone = list(slack.deleted_files.values())
    removed = sum(1 for f in gone if f.get("completed"))
    status = f"{removed} deleted after sharing, {len(gone) - removed} deleted unshared"
    titles = sorted(set(shared) | {f["title"] for f in gone if f.get("title")})
    return [
        tally.Count(
            scenario,
            run,
            "chart",
            title,
            "-",
            "slack:#kpis",
            expected=1,
            delivered=1 if shared.get(title) else 0,
            duplicated=max(shared.get(title, 0) - 1, 0),
            lost=0 if shared.get(title) else 1,
            unknown=0,
            status=status,
        )
        for title in titles
    ]


def _killed_at(smtp_server, tmp_path, slack_server, servers, where: str) -> Serve:
    victim = _serve(tmp_path, slack_server, "victim")
    servers.append(victim)
    setattr(smtp_server.handler, where, victim.process.pid)
    victim.process.wait(timeout=90)
    assert victim.process.returncode == -9
    restarted = _serve(tmp_path, slack_server, "restarted")
    servers.append(restarted)
    return restarted.started()


@pytest.mark.parametrize("run", range(RUNS))
def test_a_kill_after_the_claim_before_data(tmp_path, demo_database, slack_server, smtp_server, servers, run):
    state_url = f"sqlite:///{tmp_path / 's.db'}"
    write_config(tmp_path, demo_database, state_url=state_url, destinations=[EMAIL], smtp=smtp_server)
    restarted = _killed_at(smtp_server, tmp_path, slack_server, servers, "kill_on_rcpt")
    statuses = settle(state_url, [EMAIL], timeout=90)
    assert restarted.stop(timeout=90) == 0
    counts = tally.count(
        "SIGKILL after the claim, before SMTP DATA, restart",
        str(run),
        expected_keys([EMAIL]),
        statuses,
        smtp_messages=smtp_server.messages,
    )
    tally.record(counts)
    assert (counts[0].delivered, counts[0].duplicated, counts[0].unknown) == (1, 0, 0)


@pytest.mark.parametrize("run", range(RUNS))
def test_a_kill_between_data_and_250(tmp_path, demo_database, slack_server, smtp_server, servers, run):
    state_url = f"sqlite:///{tmp_path / 's.db'}"
    write_config(tmp_path, demo_database, state_url=state_url, destinations=[EMAIL], smtp=smtp_server)
    restarted = _killed_at(smtp_server, tmp_path, slack_server, servers, "kill_on_data")
    restarted.wait_for(r"delivery_unknown kind=digest digest=weekly", 60)
    status, body = restarted.get("/healthz")
    assert restarted.stop(timeout=90) == 0
    statuses = tally.ledger_statuses(state_url)
    counts = tally.count(
        "SIGKILL between SMTP DATA and the 250, restart (reported)",
        str(run),
        expected_keys([EMAIL]),
        statuses,
        smtp_messages=smtp_server.messages,
    )
    tally.record(counts)
    assert status == 200 and b"delivery_unknown" in body
    assert (counts[0].unknown, counts[0].duplicated) == (1, 0)
