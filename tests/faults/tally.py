"""Count, per (kind, name, period, destination), what a fault scenario expected and what arrived.

``delivered``: the message arrived at least once. ``duplicated``: copies beyond the first. ``lost``:
it never arrived and the ledger does not say ``unknown`` (nobody would know). ``unknown``: the ledger
shows the send as ``unknown`` (a crash in the email window): left for a person to check.
Each call of :func:`record` appends one row per key to the results file (``KPI_FAULTS_RESULTS``,
default ``tests/faults/results.json``) that ``python -m tests.faults.report`` prints.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(os.environ.get("KPI_FAULTS_RESULTS") or Path(__file__).with_name("results.json"))
SLACK_IDS = {"#kpis": "C0KPIS0001", "#ops": "C0OPS00002"}


@dataclass
class Count:
    """The counts of one key in one run."""

    scenario: str
    run: str
    kind: str
    name: str
    period: str
    destination: str
    expected: int
    delivered: int
    duplicated: int
    lost: int
    unknown: int
    status: str


def arrivals(destination: str, key: str, slack, smtp_messages) -> int:
    """How many copies of the message with ledger key ``key`` reached ``destination``."""
    if destination.startswith("slack:"):
        channel = SLACK_IDS.get(destination.removeprefix("slack:"), destination.removeprefix("slack:"))
        return sum(
            1
            for m in slack.posted_to(channel)
            if (m.get("metadata") or {}).get("event_payload", {}).get("key") == key
            and m["metadata"]["event_payload"].get("part") == 1
        )
    if destination.startswith("email:"):
        wanted = {a.strip().lower() for a in destination.removeprefix("email:").split(",")}
        return sum(1 for m in smtp_messages if {r.lower() for r in m.rcpt_tos} == wanted)
    if destination.startswith("file:"):
        folder = Path(destination.removeprefix("file:"))
        return 1 if any(folder.glob("*.txt")) else 0
    raise ValueError(f"no counter for {destination}")


def count(
    scenario: str,
    run: str,
    expected: list[tuple[str, str, str, str]],
    statuses: dict[tuple, str],
    slack=None,
    smtp_messages=(),
    arrived: dict[tuple, int] | None = None,
) -> list[Count]:
    """One Count per expected key; ``statuses`` maps a key to its ledger status as shown."""
    counts = []
    for kind, name, period, destination in expected:
        key = (kind, name, period, destination)
        if arrived is not None and key in arrived:
            copies = arrived[key]
        else:
            copies = arrivals(
                destination, f"{kind}|{name}|{period}||{destination}", slack, list(smtp_messages)
            )
        status = statuses.get(key, "missing")
        unknown = 1 if status == "unknown" else 0
        counts.append(
            Count(
                scenario,
                run,
                kind,
                name,
                period,
                destination,
                expected=1,
                delivered=1 if copies else 0,
                duplicated=max(copies - 1, 0),
                lost=1 if copies == 0 and not unknown else 0,
                unknown=unknown,
                status=status,
            )
        )
    return counts


def record(counts: list[Count]) -> None:
    """Append the counts to the results file."""
    rows: list[dict[str, Any]] = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    rows.extend({**asdict(c), "at": stamp} for c in counts)
    RESULTS.write_text(json.dumps(rows, indent=1))


def ledger_statuses(state_url: str) -> dict[tuple, str]:
    """(kind, name, period, destination) -> status as shown, from a state database."""
    import sqlalchemy as sa

    from kpicore.delivery.ledger import list_deliveries

    engine = sa.create_engine(state_url)
    try:
        return {(r.kind, r.name, r.period, r.destination): r.status for r in list_deliveries(engine)}
    finally:
        engine.dispose()
