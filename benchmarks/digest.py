"""Render+send time of a 20-metric digest to the loopback Slack and SMTP servers.

Run: ``python benchmarks/digest.py`` from the repository root. Prints one line per step.
The loopback servers are the test suite's (tests/slack_server.py, the aiosmtpd handler in
tests/conftest.py), so the benchmark exercises exactly what the tests check.
Charts (matplotlib) dominate: one PNG per metric with a trend, drawn once and shared by the
HTML email and the Slack upload.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

# Run as a script: make the repository root (kpicore, tests) importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine

from kpicore.channels import default_channels
from kpicore.delivery import deliver
from kpicore.digest.message import OutgoingDigest
from kpicore.digest.render import renderer
from kpicore.state import migrate
from tests.conftest import RecordingHandler, free_port
from tests.digest_data import PERIOD, result, sample_spec, weekly_trend
from tests.slack_server import SlackServer

METRICS = 20


def main() -> None:
    from aiosmtpd.controller import Controller

    results = [
        result(
            f"metric_{i:02d}",
            f"Metric {i:02d}",
            "currency",
            "higher",
            1000 + 17 * i,
            950 + 13 * i,
            40 + i,
            trend=weekly_trend([900 + (j * 37 + i * 11) % 200 for j in range(12)]),
        )
        for i in range(METRICS)
    ]
    destinations = ["slack:#kpis", "email:owner@example.com,ops@example.com"]
    spec = sample_spec(metrics=[r.metric for r in results], destinations=destinations)
    handler = RecordingHandler()
    port = free_port()
    smtp = Controller(handler, hostname="127.0.0.1", port=port)
    smtp.start()
    with SlackServer() as slack, tempfile.TemporaryDirectory() as folder:
        os.environ["KPI_SLACK_API_URL"] = slack.base_url
        os.environ["SLACK_BOT_TOKEN"] = slack.fake.token
        engine = create_engine(f"sqlite:///{Path(folder) / 'state.db'}")
        migrate(engine)
        settings = {
            "email": {"host": "127.0.0.1", "port": port, "security": "none", "sender": "r@example.com"}
        }

        started = time.perf_counter()
        render_format = renderer(spec, results, period_label=PERIOD)
        rendered = {fmt: render_format(fmt) for fmt in ("text", "md", "html", "slack")}
        html = rendered["html"]
        rendered_at = time.perf_counter()
        outgoing = OutgoingDigest(spec=spec, period_label=PERIOD, renderings=rendered)
        outcomes = deliver(
            outgoing.key, destinations, outgoing, engine, {c.scheme: c for c in default_channels()}, settings
        )
        sent_at = time.perf_counter()
    smtp.stop()
    assert [o.status for o in outcomes] == ["sent", "sent"], outcomes
    print(f"{METRICS} metrics, {len(html.images)} charts")
    print(f"render (text, md, html + charts, slack): {rendered_at - started:.2f} s")
    print(f"send (Slack with chart upload, email, ledger): {sent_at - rendered_at:.2f} s")
    print(f"total: {sent_at - started:.2f} s")


if __name__ == "__main__":
    main()
