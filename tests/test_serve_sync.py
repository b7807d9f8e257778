"""`kpi serve` with a hosted CRM source: it syncs on its own schedule and /kpi says how old the data is.

Uses kpicore-agilecrm (installed by `make setup`) and its loopback Agile CRM server from the pack's tests.
"""

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "kpicore-agilecrm" / "tests"))
from agile_data import load, make_facts
from agile_server import AgileServer, AgileState

EMAIL, KEY = "owner@acme.example", "k3y-s3cret-value"


@pytest.fixture
def state():
    return AgileState(EMAIL, KEY)


@pytest.fixture
def server(state, monkeypatch):
    server = AgileServer(state).start()
    monkeypatch.setenv("KPI_AGILECRM_API_KEY", KEY)
    yield server
    server.stop()


def test_kpi_serve_syncs_on_its_own_schedule_and_kpi_says_how_old_the_data_is(
    server, state, tmp_path, slack_server
):
    """`kpi serve` (a real process) syncs the hosted source every [sync] max_age; /kpi answers from the
    last complete sync and says how old it is, without syncing inline."""
    import hashlib
    import hmac
    import re
    import time
    import urllib.parse
    import urllib.request

    load(state, *make_facts(dt.date.today()))
    (tmp_path / "kpi.toml").write_text(
        '[source]\nurl = "agilecrm://acme"\nemail = "owner@acme.example"\n[sync]\nmax_age = "1h"\n',
        encoding="utf-8",
    )
    secret = "serve-sync-secret"
    env = {
        **os.environ,
        "KPI_LOAD_PLUGINS": "agilecrm",
        "KPI_AGILECRM_API_BASE": server.base,
        "SLACK_SIGNING_SECRET": secret,
    }
    env.pop("KPI_AGILECRM_EMAIL", None)
    env.pop("SLACK_APP_TOKEN", None)
    kpi = os.path.join(os.path.dirname(sys.executable), "kpi")
    log = tmp_path / "serve.log"
    with log.open("w") as handle:
        process = subprocess.Popen(
            [kpi, "serve", "--port", "0"], cwd=tmp_path, env=env, stdout=handle, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while "synced " not in log.read_text() and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.1)
        text = log.read_text()
        assert "synced summary=" in text, text
        assert KEY not in text
        port = int(re.search(r"listening host=\S+ port=(\d+)", text).group(1))
        crm_requests = len(state.requests)

        body = urllib.parse.urlencode(
            {
                "command": "/kpi",
                "text": "new_customers last week",
                "user_id": "U1",
                "channel_id": "C1",
                "channel_name": "general",
                "team_id": "T1",
                "response_url": "http://127.0.0.1:9/none",
                "trigger_id": "1.2.3",
            }
        )
        stamp = str(int(time.time()))
        signature = (
            "v0=" + hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
        )
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/slack/events",
            data=body.encode(),
            method="POST",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": signature,
            },
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = json.loads(response.read())
        assert "New customers" in json.dumps(answer)
        assert "Data as of the last sync, just now" in json.dumps(answer)
        assert len(state.requests) == crm_requests  # the answer read the staging copy, never the CRM
    finally:
        process.terminate()
        process.wait(timeout=30)
