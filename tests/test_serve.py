"""`kpi serve` as real processes: health, metrics, a clean stop with a delivery in flight, bad starts,
several processes on one PostgreSQL state database (exactly once on Slack, at most once by email,
across a SIGKILL), and a crash between Slack's answer and the ledger record."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import SLACK_TOKEN, free_port

KPI = str(Path(sys.executable).with_name("kpi"))
ROOT = Path(__file__).resolve().parents[1]
POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
SLACK_KPIS = "C0KPIS0001"
SLACK_OPS = "C0OPS00002"


@pytest.fixture
def pg_state_url():
    """A throw-away PostgreSQL database for the state (dropped afterwards)."""
    name = f"kpi_serve_test_{uuid.uuid4().hex[:10]}"
    server = sa.create_engine(f"{POSTGRES_SERVER}/test", isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        with server.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


def write_config(
    folder: Path,
    demo_database,
    *,
    state_url=None,
    smtp=None,
    destinations=("slack:#kpis",),
    schedule='every = "2s"',
    serve='tick = "1s"\nlease = "5s"',
    metrics=("revenue", "nps"),
) -> Path:
    email = ""
    if smtp is not None:
        email = (
            f'[email]\nhost = "{smtp.host}"\nport = {smtp.port}\nsecurity = "none"\n'
            'sender = "KPI bot <reports@example.com>"\n'
        )
    state = f'state_url = "{state_url}"\n' if state_url else ""
    path = folder / "kpi.toml"
    path.write_text(
        f"""{state}timezone = "UTC"
[source]
url = "{demo_database}"
{email}
[slack]
retry_backoff = 0.01
max_retries = 1

[serve]
{serve}

[digests.weekly]
title = "Weekly KPIs"
metrics = {json.dumps(list(metrics))}
period = "2026-W47"
trend = 4
{schedule}
destinations = {json.dumps(list(destinations))}
""",
        encoding="utf-8",
    )
    return path


def environment(slack_server) -> dict[str, str]:
    env = dict(os.environ)
    env.update(KPI_SLACK_API_URL=slack_server.base_url, SLACK_BOT_TOKEN=SLACK_TOKEN, KPI_LOAD_PLUGINS="")
    env.pop("KPI_DEBUG", None)
    return env


class Serve:
    """One `kpi serve` process with its log file."""

    def __init__(
        self, folder: Path, env: dict[str, str], *extra: str, name: str = "serve", clock: Path | None = None
    ) -> None:
        """``clock``: an offset file; the process then runs on the test clock (tests/support/clocked_serve.py)."""
        self.log = folder / f"{name}-{uuid.uuid4().hex[:6]}.log"
        self.handle = self.log.open("w")
        command = [KPI]
        if clock is not None:
            command = [sys.executable, "-m", "tests.support.clocked_serve", str(clock)]
            env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))}
        self.process = subprocess.Popen(
            [*command, "serve", "--port", "0", "--config", str(folder / "kpi.toml"), *extra],
            stdout=self.handle,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=folder,
        )
        self.port: int | None = None

    def text(self) -> str:
        return self.log.read_text()

    def wait_for(self, pattern: str, timeout: float = 30.0) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = re.search(pattern, self.text())
            if match:
                return match
            if self.process.poll() is not None:
                raise AssertionError(f"kpi serve exited {self.process.returncode}:\n{self.text()}")
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in the log after {timeout} s:\n{self.text()}")

    def started(self) -> Serve:
        """Wait for the ``listening`` line (text or JSON logs) and read the port from it."""
        match = self.wait_for(r'listening host=\S+ port=(\d+)|"event": "listening".*?"port": (\d+)')
        self.port = int(match.group(1) or match.group(2))
        return self

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def sample(self, series: str) -> float:
        """One series of this process's /metrics, e.g. ``kpicore_fires_total{kind="digest",name="weekly"}``
        (0 when it has no sample yet)."""
        body = self.get("/metrics")[1].decode()
        match = re.search(rf"^{re.escape(series)} (\S+)$", body, re.M)
        return float(match.group(1)) if match else 0.0

    def fires(self, kind: str, name: str) -> float:
        """How many fires of (kind, name) this process has started."""
        return self.sample(f'kpicore_fires_total{{kind="{kind}",name="{name}"}}')

    def wait_for_fires(self, kind: str, name: str, more: int = 2, timeout: float = 60.0) -> None:
        """Wait until ``more`` further fires of (kind, name) have run to their end: one fire of a name runs
        at a time and is counted when it starts, so the count passing start + more means they finished.
        What a test then finds is what those fires did, not what a fixed sleep happened to cover."""
        wanted = self.fires(kind, name) + more + 1
        deadline = time.monotonic() + timeout
        while self.fires(kind, name) < wanted:
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {more} more {kind} fires of {name} in {timeout} s")
            time.sleep(0.1)

    def wait_for_ticks(self, more: int = 2, timeout: float = 60.0) -> None:
        """Wait until ``more`` further ticks (the retry pass, every ``[serve] tick``) have run to their end."""
        wanted = self.sample("kpicore_ticks_total") + more
        deadline = time.monotonic() + timeout
        while self.sample("kpicore_ticks_total") < wanted:
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {more} more ticks in {timeout} s")
            time.sleep(0.1)

    def stop(self, sig=signal.SIGTERM, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self.handle.close()


def deliveries(state_url: str) -> list[tuple]:
    """(kind, name, period, destination, status as shown, attempts) of every ledger row, oldest first."""
    from kpicore.delivery.ledger import list_deliveries

    engine = sa.create_engine(state_url)
    try:
        rows = list_deliveries(engine)
    finally:
        engine.dispose()
    return [(r.kind, r.name, r.period, r.destination, r.status, r.attempts) for r in reversed(rows)]


def wait_until_sent(state_url: str, destination: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(row[3] == destination and row[4] == "sent" for row in deliveries(state_url)):
            return
        time.sleep(0.1)
    raise AssertionError(f"{destination} not sent within {timeout} s")


def kpicore_parts(slack, channel=SLACK_KPIS) -> list[tuple[str, int]]:
    """(ledger key, part) of every kpicore message posted to a channel."""
    return [
        (m["metadata"]["event_payload"]["key"], m["metadata"]["event_payload"]["part"])
        for m in slack.posted_to(channel)
        if m.get("metadata")
    ]


def test_healthz_metrics_and_a_clean_stop_with_a_delivery_in_flight(
    tmp_path, demo_database, slack_server, servers
):
    slack = slack_server.fake
    slack.post_delay = 2.0
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    write_config(tmp_path, demo_database, state_url=state_url)
    serve = Serve(tmp_path, environment(slack_server))
    servers.append(serve)
    serve.started()
    deadline = time.monotonic() + 30
    while not slack.calls("chat.postMessage") and time.monotonic() < deadline:
        time.sleep(0.02)
    status, body = serve.get("/healthz")
    health = json.loads(body)
    assert status == 200 and health["status"] == "ok" and health["scheduler"] == "running"
    assert health["state_db"] == "ok" and health["digests"][0]["name"] == "weekly"
    assert health["digests"][0]["next_fire"]
    status, body = serve.get("/metrics")
    assert status == 200 and b"kpicore_fires_total{" in body and b"kpicore_compute_seconds_count" in body
    assert b"kpicore_ticks_total" in body
    started_stop = time.monotonic()
    assert serve.stop(signal.SIGTERM) == 0  # the post in flight (2 s) finished first
    assert time.monotonic() - started_stop >= 1.0
    log = serve.text()
    assert "stopping signal=SIGTERM" in log and "stopped clean=True" in log
    assert "delivered digest=weekly period=2026-W47 destination=slack:#kpis" in log
    assert [row[4] for row in deliveries(state_url)] == ["sent"]
    assert len(slack.posted_to(SLACK_KPIS)) == 1
    assert SLACK_TOKEN not in log


def test_healthz_says_degraded_when_the_state_database_drops_out(
    tmp_path, demo_database, slack_server, servers, pg_state_url
):
    write_config(tmp_path, demo_database, state_url=pg_state_url, schedule='schedule = "0 9 * * MON"')
    serve = Serve(tmp_path, environment(slack_server), "--log-format", "json")
    servers.append(serve)
    serve.started()
    assert serve.get("/healthz")[0] == 200
    server = sa.create_engine(f"{POSTGRES_SERVER}/test", isolation_level="AUTOCOMMIT")
    with server.connect() as connection:  # the database goes away under the running service
        connection.execute(sa.text(f'DROP DATABASE "{pg_state_url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    server.dispose()
    status, body = serve.get("/healthz")
    assert (
        status == 503 and json.loads(body)["state_db"] == "error" and json.loads(body)["status"] == "degraded"
    )
    assert serve.process.poll() is None  # still running
    assert serve.stop(signal.SIGINT) == 0
    logged = [json.loads(line) for line in serve.text().splitlines()]  # every line is one JSON object
    events = [e["event"] for e in logged]
    # a tick in flight at the signal may still log the database's absence before the last line
    assert events[-1] == "stopped" and "stopping" in events
    assert logged[events.index("stopping")]["signal"] == "SIGINT"


def test_healthz_names_channels_by_their_kind_never_an_address(
    tmp_path, demo_database, slack_server, smtp_server, servers
):
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    destinations = ("slack:#kpis", "email:owner@example.com")
    write_config(
        tmp_path,
        demo_database,
        state_url=state_url,
        smtp=smtp_server,
        destinations=destinations,
        serve='tick = "1s"\nlease = "5s"\nnotify = ["email:ops@example.com"]',
    )
    serve = Serve(tmp_path, environment(slack_server))
    servers.append(serve)
    serve.started()
    for destination in destinations:
        wait_until_sent(state_url, destination, timeout=90)
    status, body = serve.get("/healthz")
    assert serve.stop() == 0
    health = json.loads(body)
    assert status == 200 and health["digests"][0]["last_delivery"]["channel"] in ("slack", "email")
    text = body.decode()
    for address in ("#kpis", "kpis", "owner@example.com", "ops@example.com", "example.com", SLACK_KPIS):
        assert address not in text, (address, text)


def test_an_address_in_a_health_text_becomes_its_kind_of_channel():
    from kpicore.serve.unknown import without_addresses

    text = "no answer from slack:#kpis (#kpis), email:owner@example.com; a@b.org; #kpis-old stays"
    assert without_addresses(text, ["slack:#kpis", "email:owner@example.com"]) == (
        "no answer from slack (slack), email; email; #kpis-old stays"
    )


def test_a_port_in_use_and_an_unreachable_state_database_are_runtime_errors(
    tmp_path, demo_database, slack_server
):
    import socket

    write_config(tmp_path, demo_database)
    env = environment(slack_server)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(
            check=False,
            args=[KPI, "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines() == [
        (
            f"Error: cannot listen on 127.0.0.1:{port}: Address already in use; "
            "choose another port with --port N (or --port 0 for any free one)"
        )
    ]
    config = write_config(
        tmp_path, demo_database, state_url=f"postgresql+psycopg://kpi:s3cret@127.0.0.1:{free_port()}/x"
    )
    config.chmod(0o600)  # readable by others, the literal password would add a warning line
    result = subprocess.run(
        check=False,
        args=[KPI, "serve", "--port", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and result.stderr.startswith("Error: state database ")
    assert "s3cret" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "schedule, message",
    [
        ('schedule = "0 9 * *"', "[digests.weekly].schedule: '0 9 * *' has 4 field(s)"),
        ('schedule = "0 9 30 2 *"', "[digests.weekly].schedule: '0 9 30 2 *' can never fire"),
        ('every = "0s"', "[digests.weekly].every: '0s' is not an interval"),
        ('schedule = "0 9 * * *"\ntimezone = "Mars/Olympus"', "[digests.weekly].timezone"),
    ],
)
def test_bad_schedules_are_refused_at_start(
    run_kpi, tmp_path, demo_database, slack_server, schedule, message
):
    write_config(tmp_path, demo_database, schedule=schedule)
    for command in (["serve", "--port", "0"], ["check"], ["schedule"]):
        code, _, err = run_kpi(*command)
        assert code == 2, (command, err)
        assert message in err


def test_two_digests_with_one_name_are_refused(run_kpi, tmp_path, demo_database, slack_server):
    path = write_config(tmp_path, demo_database)
    path.write_text(path.read_text() + '\n[digests.weekly]\nmetrics = ["nps"]\n', encoding="utf-8")
    code, _, err = run_kpi("serve", "--port", "0")
    assert code == 2 and "kpi.toml" in err and "weekly" in err and "line" in err


def test_unknown_destination_scheme_and_serve_key_are_refused(tmp_path, demo_database, slack_server):
    write_config(tmp_path, demo_database, destinations=["slak:#kpis"])
    result = subprocess.run(
        check=False,
        args=[KPI, "serve"],
        cwd=tmp_path,
        env=environment(slack_server),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "no channel handles 'slak:' (did you mean slack:?)" in result.stderr
    write_config(tmp_path, demo_database, serve='notfy = ["slack:#ops"]')
    result = subprocess.run(
        check=False,
        args=[KPI, "serve"],
        cwd=tmp_path,
        env=environment(slack_server),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "[serve]: unknown key 'notfy' (did you mean 'notify'?)" in result.stderr


def test_kpi_schedule_prints_local_time_and_utc(tmp_path, demo_database, slack_server):
    write_config(tmp_path, demo_database, schedule='schedule = "0 9 * * 1"\ntimezone = "Asia/Kolkata"')
    result = subprocess.run(
        check=False,
        args=[KPI, "schedule", "--next", "2"],
        cwd=tmp_path,
        env=environment(slack_server),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "digest weekly: 0 9 * * 1 (Asia/Kolkata), period 2026-W47"
    assert len(lines) == 3
    for line in lines[1:]:
        assert re.fullmatch(r"  \d{4}-\d\d-\d\d Mon 09:00:00 IST  =  \d{4}-\d\d-\d\d 03:30:00 UTC", line), (
            line
        )


@pytest.mark.parametrize("processes", [2, 3])
def test_several_processes_on_one_postgres_deliver_once_across_a_sigkill(
    tmp_path, demo_database, slack_server, smtp_server, pg_state_url, servers, processes
):
    slack = slack_server.fake
    slack.post_delay = 0.3  # a window in which the kill can land mid-send
    write_config(
        tmp_path,
        demo_database,
        state_url=pg_state_url,
        smtp=smtp_server,
        destinations=["slack:#kpis", "email:owner@example.com"],
    )
    env = environment(slack_server)
    running = [Serve(tmp_path, env, name=f"p{i}") for i in range(processes)]
    servers.extend(running)
    for serve in running:
        serve.started()
    wait_until_sent(pg_state_url, "slack:#kpis")
    wait_until_sent(pg_state_url, "email:owner@example.com")
    # A new period starts with every process up: they all fire at the same instant (the 2 s grid is
    # shared) and race for each claim. Clearing the ledger and the servers stands in for the new period.
    engine = sa.create_engine(pg_state_url)
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM deliveries"))
    engine.dispose()
    with slack.lock:
        slack.messages.clear()
        slack.history.clear()
    smtp_server.messages.clear()
    victim = running[0]
    time.sleep(1.0)
    victim.process.kill()  # SIGKILL, mid-run
    victim.process.wait(timeout=10)
    restarted = Serve(tmp_path, env, name="restarted")
    servers.append(restarted)
    restarted.started()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rows = deliveries(pg_state_url)
        if (
            len(rows) == 2
            and all(row[4] in ("sent", "unknown") for row in rows)
            and (all(row[4] == "sent" for row in rows if row[3].startswith("slack:")))
        ):
            break
        time.sleep(0.2)
    for serve in [*running[1:], restarted]:  # more fires of the same period: all must be skipped
        serve.wait_for_fires("digest", "weekly")
    for serve in [*running[1:], restarted]:
        assert serve.stop() == 0
    rows = {row[3]: row for row in deliveries(pg_state_url)}
    assert rows["slack:#kpis"][4] == "sent"
    assert kpicore_parts(slack) == [("digest|weekly|2026-W47||slack:#kpis", 1)]  # exactly once on Slack
    if rows["email:owner@example.com"][4] == "sent":
        assert len(smtp_server.messages) == 1
    else:  # the kill fell between the SMTP answer and the ledger record: at most once, shown as unknown
        assert rows["email:owner@example.com"][4] == "unknown" and len(smtp_server.messages) <= 1
    logs = "".join(serve.text() for serve in [*running, restarted])
    assert SLACK_TOKEN not in logs


@pytest.mark.parametrize("stored", [True, False], ids=["message-arrived", "message-lost"])
def test_a_crash_between_slacks_answer_and_the_ledger_is_resolved_by_the_message_metadata(
    tmp_path, demo_database, slack_server, stored
):
    slack = slack_server.fake
    state_url = f"sqlite:///{tmp_path / 'state.db'}"
    write_config(tmp_path, demo_database, state_url=state_url, serve='tick = "1s"\nlease = "5s"')
    env = environment(slack_server)
    first = subprocess.Popen(
        [KPI, "digest", "send", "weekly"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    slack.kill_before_store = not stored
    slack.kill_on_post = first.pid  # the loopback Slack kills the sender on receipt of its message
    first.communicate(timeout=60)
    assert first.returncode == -signal.SIGKILL
    assert len(slack.posted_to(SLACK_KPIS)) == (1 if stored else 0)
    assert not [f for f in slack.files.values() if f.get("completed")]  # the charts never went
    (row,) = deliveries(state_url)
    assert row[4] == "pending"  # its lease is still running
    # The dead sender's lease (5 s, the shortest allowed) runs out: the ledger then shows the claim lapsed
    # (it died before recording), and the next sender takes it over.
    wait_until_lapsed = time.monotonic() + 30
    while deliveries(state_url)[0][4] == "pending" and time.monotonic() < wait_until_lapsed:
        time.sleep(0.2)
    listing = subprocess.run(
        check=False, args=[KPI, "digest", "deliveries"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert " lapsed " in listing.stdout, listing.stdout
    again = subprocess.run(
        check=False,
        args=[KPI, "digest", "send", "weekly"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "slack:#kpis: sent (resumed an interrupted send)"
    assert kpicore_parts(slack) == [("digest|weekly|2026-W47||slack:#kpis", 1)]  # once, found or posted
    assert len(slack.posted_to(SLACK_KPIS)) == 1
    history = slack.calls("conversations.history")
    assert history and str(history[0].params.get("include_all_metadata")).lower() in ("1", "true")
    charts = [f for f in slack.files.values() if f.get("completed")]
    assert len(charts) == 2 and {f["thread_ts"] for f in charts} == {slack.posted_to(SLACK_KPIS)[0]["ts"]}
    (row,) = deliveries(state_url)
    assert row[4] == "sent" and row[5] == 2
    # And the third send finds it sent: nothing more is posted.
    third = subprocess.run(
        check=False,
        args=[KPI, "digest", "send", "weekly"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "already sent" in third.stdout and len(slack.posted_to(SLACK_KPIS)) == 1
