"""Secrets never leak: known values for the Slack token, the signing secret, the SMTP password and a
password inside the source URL are given to real `kpi` processes (check, digest send, serve with its
/healthz and /metrics); none appears in anything they print. A kpi.toml that other users can read and
that holds a literal password gets a warning naming the key, not the value."""

from __future__ import annotations

import os
import subprocess

from tests.conftest import SLACK_TOKEN, free_port
from tests.test_serve import KPI, Serve, environment

DB_PASSWORD = "pg-pass-do-not-leak"
SMTP_PASSWORD = "smtp-pass-do-not-leak"
SIGNING = "signing-secret-do-not-leak"


def write(folder, smtp_port: int, mode: int = 0o644):
    path = folder / "kpi.toml"
    path.write_text(
        f"""state_url = "sqlite:///{folder / "state.db"}"
timezone = "UTC"
[source]
url = "postgresql+psycopg://kpi:{DB_PASSWORD}@127.0.0.1:{free_port()}/shop"
[email]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
username = "reports"
sender = "reports@example.com"
[serve]
tick = "1s"
backoff = ["1s"]
retries = 1
[digests.weekly]
metrics = ["revenue"]
period = "2026-W47"
every = "2s"
max_delay = "1s"
destinations = ["slack:#kpis", "email:owner@example.com"]
""",
        encoding="utf-8",
    )
    os.chmod(path, mode)
    return path


def test_no_secret_in_any_output(tmp_path, slack_server, smtp_server):
    write(tmp_path, smtp_server.port)
    env = environment(slack_server)
    env.update(KPI_SMTP_PASSWORD=SMTP_PASSWORD, SLACK_SIGNING_SECRET=SIGNING, KPI_DEBUG="")
    captured = []
    for command in (["check"], ["check", "--data"], ["digest", "send", "weekly"], ["digest", "deliveries"]):
        result = subprocess.run(
            check=False,
            args=[KPI, *command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        captured.append(result.stdout + result.stderr)
    serve = Serve(tmp_path, env)
    try:
        serve.started()
        serve.wait_for_fires(
            "digest", "weekly", more=2
        )  # fires: the source is unreachable, email login refused
        captured.extend(serve.get(path)[1].decode() for path in ("/healthz", "/metrics"))
    finally:
        serve.stop()
    captured.append(serve.text())
    captured.extend(m["text"] + str(m["blocks"]) for m in slack_server.fake.messages)
    everything = "\n".join(captured)
    assert "could not" in everything.lower() or "error" in everything.lower()  # the failures were reported
    for secret in (DB_PASSWORD, SMTP_PASSWORD, SIGNING, SLACK_TOKEN):
        assert secret not in everything, secret


def test_a_readable_kpi_toml_with_a_literal_password_is_warned_about(tmp_path, slack_server, smtp_server):
    env = environment(slack_server)
    write(tmp_path, smtp_server.port, mode=0o644)
    result = subprocess.run(
        check=False, args=[KPI, "check"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    warnings = [line for line in result.stderr.splitlines() if "readable by other users" in line]
    assert warnings == [
        (
            f"Warning: {tmp_path / 'kpi.toml'} is readable by other users (mode 644) and holds a "
            "literal secret at source.url: run chmod 600 kpi.toml, or put the secret in an "
            "environment variable (${NAME})"
        )
    ], result.stderr
    assert DB_PASSWORD not in result.stdout + result.stderr
    os.chmod(tmp_path / "kpi.toml", 0o600)
    result = subprocess.run(
        check=False, args=[KPI, "check"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert "readable by other users" not in result.stderr
