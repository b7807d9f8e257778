"""Print the fault suite's table: ``python -m tests.faults.report [results.json]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.faults.tally import RESULTS

COLUMNS = ("runs", "expected", "delivered", "duplicated", "lost", "unknown")


def table(rows: list[dict]) -> list[str]:
    """Markdown lines: one per scenario in first-seen order, then the total."""
    order: dict[str, dict] = {}
    for row in rows:
        entry = order.setdefault(row["scenario"], {"runs": set(), **{c: 0 for c in COLUMNS[1:]}})
        entry["runs"].add(row["run"])
        for column in COLUMNS[1:]:
            entry[column] += row[column]
    lines = ["| scenario | " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * len(COLUMNS)]
    total = {c: 0 for c in COLUMNS}
    for scenario, entry in order.items():
        values = [len(entry["runs"]), *(entry[c] for c in COLUMNS[1:])]
        for column, value in zip(COLUMNS, values, strict=True):
            total[column] += value
        lines.append(f"| {scenario} | " + " | ".join(str(v) for v in values) + " |")
    lines.append("| **total** | " + " | ".join(str(total[c]) for c in COLUMNS) + " |")
    return lines


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else RESULTS
    if not path.exists():
        print(f"no results at {path}: run `make faults` first", file=sys.stderr)
        return 2
    print("\n".join(table(json.loads(path.read_text()))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
