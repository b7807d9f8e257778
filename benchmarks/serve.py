"""`kpi serve` on the demo digest: fire-to-delivered latency, then idle RSS and CPU.

Run: ``python benchmarks/serve.py [--repeat 3] [--idle 30]`` from the repository root. Each
repetition starts a real `kpi serve` (fresh state database) whose demo digest fires every 10 s to
the loopback Slack and SMTP servers of the test suite, and reads its JSON logs: latency is the
``delivered`` event's time minus the scheduled fire time, per destination. Then one `kpi serve`
with a weekly schedule (nothing fires) is left idle: RSS from /proc/PID/status, CPU as
(utime + stime) over the idle window (Linux only).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kpicore.demo_data import generate_demo_database
from tests.conftest import RecordingHandler, free_port
from tests.slack_server import SlackServer

KPI = str(Path(sys.executable).with_name("kpi"))
DEMO_METRICS = ["revenue", "new_customers", "churn_rate", "nps", "csat"]


def write_config(folder: Path, smtp_port: int, schedule: str) -> None:
    (folder / "kpi.toml").write_text(
        f"""[source]
url = "{folder / "kpi-demo.db"}"
[email]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
sender = "KPI bot <reports@example.com>"
[digests.weekly]
title = "Weekly KPIs"
metrics = {json.dumps(DEMO_METRICS)}
breakdowns = {{ nps = "region" }}
period = "last-week"
trend = 12
{schedule}
destinations = ["slack:#kpis", "email:owner@example.com"]
""",
        encoding="utf-8",
    )


def start(folder: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    handle = log.open("w")
    return subprocess.Popen(
        [KPI, "serve", "--port", "0", "--log-format", "json"],
        cwd=folder,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )


def events(log: Path) -> list[dict]:
    out = []
    for line in log.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return out


def latency_once(folder: Path, env: dict[str, str], smtp_port: int) -> dict[str, float] | None:
    """Seconds from the scheduled fire time to each destination's delivery (None: a catch-up came first)."""
    write_config(folder, smtp_port, 'every = "10s"\ncatch_up = "1s"')
    (folder / "kpi-state.db").unlink(missing_ok=True)
    log = folder / "serve.log"
    process = start(folder, env, log)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = events(log)
            delivered = [e for e in found if e["event"] == "delivered"]
            if len(delivered) == 2:
                break
            time.sleep(0.1)
        first = next(e for e in found if e["event"] in ("fired", "caught_up"))
        if first["event"] != "fired":
            return None
        scheduled = dt.datetime.fromisoformat(first["scheduled"])
        return {
            e["destination"]: (dt.datetime.fromisoformat(e["ts"]) - scheduled).total_seconds()
            for e in delivered
        }
    finally:
        process.terminate()
        process.wait(timeout=60)


def idle(folder: Path, env: dict[str, str], smtp_port: int, seconds: float) -> tuple[float, float]:
    """(RSS in MiB after start, CPU % over ``seconds``) of an idle `kpi serve`."""
    write_config(folder, smtp_port, 'schedule = "0 9 * * MON"\ncatch_up = "1s"')
    log = folder / "idle.log"
    process = start(folder, env, log)
    try:
        deadline = time.monotonic() + 60
        while not any(e["event"] == "listening" for e in events(log)) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2)
        tick = os.sysconf("SC_CLK_TCK")

        def cpu() -> float:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / tick

        before, started = cpu(), time.monotonic()
        time.sleep(seconds)
        used, elapsed = cpu() - before, time.monotonic() - started
        status = Path(f"/proc/{process.pid}/status").read_text()
        rss_kib = int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])
        return rss_kib / 1024, 100 * used / elapsed
    finally:
        process.terminate()
        process.wait(timeout=60)


def main() -> None:
    from aiosmtpd.controller import Controller

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of idle measurement")
    args = parser.parse_args()
    port = free_port()
    smtp = Controller(RecordingHandler(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        with SlackServer() as slack, tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            generate_demo_database(folder / "kpi-demo.db")
            env = dict(
                os.environ,
                KPI_SLACK_API_URL=slack.base_url,
                SLACK_BOT_TOKEN=slack.fake.token,
                KPI_LOAD_PLUGINS="",
            )
            runs = []
            while len(runs) < args.repeat:
                measured = latency_once(folder, env, port)
                if measured is not None:
                    runs.append(measured)
            for destination in runs[0]:
                values = sorted(run[destination] for run in runs)
                print(
                    f"fire-to-delivered {destination}: median {values[len(values) // 2]:.2f} s "
                    f"(min {values[0]:.2f}, max {values[-1]:.2f}, {len(values)} runs)"
                )
            rss, cpu = idle(folder, env, port, args.idle)
            print(f"idle kpi serve: RSS {rss:.0f} MiB, CPU {cpu:.2f} % over {args.idle:.0f} s")
    finally:
        smtp.stop()


if __name__ == "__main__":
    main()
