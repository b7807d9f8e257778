"""Answer latency of ``/kpi`` over signed HTTP: stored answers, live answers on the demo data, and
live answers on a PostgreSQL benchmark schema (benchmarks/generate.py).

Run: ``python benchmarks/chat_latency.py [--requests 200] [--pg-schema bench_100000]`` from the
repository root. For each case it starts a real ``kpi serve --port 0`` process in a folder of its own
(the loopback Slack Web API stands in for Slack), sends real Slack-signed slash commands to its
``/slack/events`` with urllib from this process, and prints p50/p95/p99 per case.

- stored: the same command again and again after one live answer (a fresh stored value answers);
- live-demo: ``[chat] max_age`` of 1 ms, so every command is computed from the demo SQLite database,
  cycling through metrics and weeks;
- live-pg: the same on PostgreSQL (skipped when the schema is absent), with the default answer budget
  (``--pg-budget`` changes it): a command that takes longer is acknowledged with "computing …" and its
  answer is delivered to the ``response_url`` (the loopback Web API here). For this case the script
  also reports how many commands took that path and how long their answers took to arrive.

The times are the acknowledgement's: from sending the request to having the HTTP response (Slack's
3-second limit applies to it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kpicore.demo_data import generate_demo_database
from tests.chat_support import blocks_text, command_body, send
from tests.slack_server import SlackServer

METRICS = ("nps", "csat", "churn_rate", "revenue", "aov", "fcr")
WEEKS = [f"2026-W{week:02d}" for week in range(20, 48)]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run_case(
    folder: Path, texts, count: int, secret: str, expect: str, slack=None
) -> tuple[list[float], list[float]]:
    """Acknowledgement times of ``count`` commands, and, when ``slack`` is given (answers may take the
    "computing …" path), the seconds until each deferred answer reached its ``response_url``."""
    kpi = Path(sys.executable).parent / "kpi"
    log = folder / "serve.log"
    with log.open("w") as handle:
        process = subprocess.Popen(
            [str(kpi), "serve", "--port", "0"],
            cwd=folder,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
    try:
        url = f"http://127.0.0.1:{_wait_for_port(process, log)}/slack/events"
        send(url, command_body("help"), sign_with=secret)  # warm the server
        if expect == "From stored values":  # one live answer stores the values
            send(url, command_body(texts[0], channel_name="leadership"), sign_with=secret)
        times, deferred = [], []
        for index, text in enumerate(itertools.islice(itertools.cycle(texts), count)):
            name = f"{folder.name}-{index}"
            response_url = slack.fake.response_url(name) if slack is not None else "http://127.0.0.1:9/none"
            began = time.perf_counter()
            answer = send(
                url,
                command_body(text, channel_name="leadership", response_url=response_url),
                sign_with=secret,
            )
            first = blocks_text(answer.body.get("blocks", [])[:1]) if isinstance(answer.body, dict) else ""
            if slack is not None and answer.status == 200 and first.startswith(":hourglass"):
                times.append(answer.elapsed)
                delivered = _wait_for_response(slack, name, began)
                if expect not in str(delivered[1]):
                    raise SystemExit(f"{text!r}: unexpected deferred answer {str(delivered[1])[:300]}")
                deferred.append(delivered[0])
                continue
            if (
                answer.status != 200
                or first.startswith((":warning:", ":hourglass"))
                or expect not in str(answer.body)
            ):
                raise SystemExit(f"{text!r}: unexpected answer {answer.status} {str(answer.body)[:300]}")
            times.append(answer.elapsed)
        return times, deferred
    finally:
        process.terminate()
        process.wait(timeout=60)


def _wait_for_response(slack, name: str, began: float, timeout: float = 120.0) -> tuple[float, dict]:
    """(seconds from sending the command, the message) once something is POSTed to response_url ``name``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in list(slack.fake.responses):
            if message.get("id") == name:
                return time.perf_counter() - began, message
        time.sleep(0.02)
    raise SystemExit(f"no answer reached response_url {name} within {timeout:g} s")


def _wait_for_port(process, log: Path, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(r"listening host=\S+ port=(\d+)", log.read_text())
        if match:
            return int(match.group(1))
        if process.poll() is not None:
            raise SystemExit(f"kpi serve exited {process.returncode}:\n{log.read_text()}")
        time.sleep(0.05)
    raise SystemExit(f"kpi serve did not start within {timeout} s:\n{log.read_text()}")


def folder_with(root: Path, name: str, toml: str, demo: Path | None) -> Path:
    folder = root / name
    folder.mkdir()
    if demo is not None:
        (folder / "kpi-demo.db").write_bytes(demo.read_bytes())
    (folder / "kpi.toml").write_text(toml, encoding="utf-8")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per case")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--pg-schema", default="bench_100000", help="schema made by benchmarks/generate.py")
    parser.add_argument(
        "--pg-budget",
        default=None,
        help='[chat] budget for the live-pg case (e.g. "30s"; default: kpicore\'s own)',
    )
    args = parser.parse_args()
    secret = secrets.token_hex(16)
    slack = SlackServer()  # Bolt checks the bot token once (auth.test) on the first request
    os.environ.update(
        SLACK_SIGNING_SECRET=secret,
        SLACK_BOT_TOKEN=slack.fake.token,
        KPI_SLACK_API_URL=slack.base_url,
        KPI_LOAD_PLUGINS="",
    )
    os.environ.pop("SLACK_APP_TOKEN", None)
    with tempfile.TemporaryDirectory() as temporary, slack:
        root = Path(temporary)
        demo = root / "kpi-demo.db"
        generate_demo_database(demo, today=dt.date(2026, 11, 25))
        cases = {
            "stored": (folder_with(root, "stored", "[chat]\nrate_limit = 1000\n", demo), ["nps 2026-W47"]),
            "live-demo": (
                folder_with(root, "live", '[chat]\nmax_age = "1ms"\nrate_limit = 1000\n', demo),
                [f"{m} {w}" for w, m in zip(WEEKS, itertools.cycle(METRICS))],
            ),
        }
        if _has_schema(args.pg_url, args.pg_schema):
            toml = f'[source]\nurl = "{args.pg_url}"\nschema = "{args.pg_schema}"\n[chat]\nmax_age = "1ms"\nrate_limit = 1000\n'
            if args.pg_budget:
                toml += f'budget = "{args.pg_budget}"\n'
            cases["live-pg"] = (
                folder_with(root, "pg", toml, None),
                [f"{m} {w}" for w, m in zip(WEEKS, itertools.cycle(METRICS))],
            )
        else:
            print(f"live-pg: skipped, schema {args.pg_schema} not found (python benchmarks/generate.py)")
        worst = 0.0
        for name, (folder, texts) in cases.items():
            count = args.requests if name == "stored" else max(20, args.requests // 4)
            times, deferred = run_case(
                folder,
                texts,
                count,
                secret,
                "From stored values" if name == "stored" else "Computed live",
                slack if name == "live-pg" else None,
            )
            worst = max(worst, max(times))
            print(
                f"{name:10s} n={len(times):4d}  p50={percentile(times, 50) * 1000:7.1f} ms  "
                f"p95={percentile(times, 95) * 1000:7.1f} ms  p99={percentile(times, 99) * 1000:7.1f} ms  "
                f"max={max(times) * 1000:7.1f} ms  mean={statistics.mean(times) * 1000:7.1f} ms",
                flush=True,
            )
            if name == "live-pg":
                line = f"{'':10s} computing path: {len(deferred)} of {len(times)} commands"
                if deferred:
                    line += (
                        f"; answer delivered to response_url after p50={percentile(deferred, 50):.2f} s "
                        f"p95={percentile(deferred, 95):.2f} s max={max(deferred):.2f} s"
                    )
                print(line, flush=True)
        print(f"slowest acknowledgement of all cases: {worst * 1000:.1f} ms (Slack's limit: 3000 ms)")


def _has_schema(url: str, schema: str) -> bool:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            found = connection.execute(
                sa.text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :schema"),
                {"schema": schema},
            ).scalar()
        engine.dispose()
        return bool(found)
    except sa.exc.SQLAlchemyError:
        return False


if __name__ == "__main__":
    main()
