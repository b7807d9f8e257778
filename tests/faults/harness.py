"""What the fault scenarios share: a kpi.toml for `kpi serve`, waiting for the ledger to settle."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.faults.tally import ledger_statuses

PERIOD = "2026-W47"


def write_config(
    folder: Path,
    source_url,
    *,
    state_url: str,
    destinations,
    smtp=None,
    slack_timeout: int = 5,
    serve: str = 'tick = "1s"\nlease = "5s"\nbackoff = ["1s"]\nretries = 6',
    extra: str = "",
    period: str = PERIOD,
    when: str = 'every = "2s"',
    timezone: str = "UTC",
) -> Path:
    """A kpi.toml firing the digest ``weekly`` for 2026-W47 every 2 s (every fire after the first is a no-op);
    ``period``, ``when`` (its ``every`` or ``schedule`` line) and ``timezone`` change that."""
    email = ""
    if smtp is not None:
        email = (
            f'[email]\nhost = "{smtp.host}"\nport = {smtp.port}\nsecurity = "none"\ntimeout = 5\n'
            'sender = "KPI bot <reports@example.com>"\n'
        )
    path = folder / "kpi.toml"
    path.write_text(
        f"""state_url = "{state_url}"
timezone = "{timezone}"
[source]
url = "{source_url}"
{email}
[slack]
retry_backoff = 0.05
max_retries = 2
timeout = {slack_timeout}

[serve]
{serve}

[digests.weekly]
title = "Weekly KPIs"
metrics = ["revenue", "nps"]
period = "{period}"
trend = 2
{when}
destinations = {json.dumps(list(destinations))}
{extra}""",
        encoding="utf-8",
    )
    return path


def expected_keys(destinations) -> list[tuple[str, str, str, str]]:
    return [("digest", "weekly", PERIOD, d) for d in destinations]


def settle(
    state_url: str, destinations, timeout: float = 40.0, done=("sent",), keys=None
) -> dict[tuple, str]:
    """Wait until every destination's ledger row (or every one of ``keys``) is in ``done`` (or timeout);
    the statuses."""
    from sqlalchemy.exc import OperationalError

    keys = keys or expected_keys(destinations)
    deadline = time.monotonic() + timeout
    statuses: dict[tuple, str] = {}
    while time.monotonic() < deadline:
        try:
            statuses = ledger_statuses(state_url)
        except OperationalError:  # the state database is locked or down: that is the scenario, wait
            time.sleep(0.2)
            continue
        if all(statuses.get(key) in done for key in keys):
            return statuses
        time.sleep(0.2)
    return statuses
