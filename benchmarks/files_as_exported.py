"""`kpi compute all --period last-week` on a folder of 1 M orders as exported: first run (the files are
read and typed into the cache), second run (from the cache), and the code before files as exported
("today", the merge base with main, run from `git archive` in a temporary folder), median of 3 each.

Two layouts of the same data: ISO 8601 text with plain amounts, and D.M.Y text with amounts such as
"1.234,50 €". Prints a Markdown table for docs/performance.md.

    .venv/bin/python benchmarks/files_as_exported.py [--orders 1000000] [--repeat 3] [--baseline main]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def write_folder(folder: Path, orders: int, layout: str) -> None:
    """customers.csv (orders / 10 customers) and orders.csv over the year before today."""
    folder.mkdir(parents=True)
    rng = random.Random(7)
    end = dt.datetime.now().replace(microsecond=0)
    start = end - dt.timedelta(days=365)
    span = int((end - start).total_seconds())
    customers = max(orders // 10, 1)

    def when(moment: dt.datetime) -> str:
        if layout == "iso":
            return moment.isoformat(sep=" ")
        return moment.strftime("%d.%m.%Y %H:%M")

    def amount(value: float) -> str:
        if layout == "iso":
            return f"{value:.2f}"
        return f"{value:,.2f} €".replace(",", " ").replace(".", ",").replace(" ", ".")

    with open(folder / "customers.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_id", "region", "signup_at", "churned_at"])
        for i in range(customers):
            signup = start + dt.timedelta(seconds=rng.randrange(span))
            churned = signup + dt.timedelta(days=rng.randrange(30, 400)) if i % 7 == 0 else None
            writer.writerow(
                [i, ("north", "south", "east", "west")[i % 4], when(signup), when(churned) if churned else ""]
            )
    with open(folder / "orders.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order_id", "customer_id", "ordered_at", "amount"])
        for i in range(orders):
            moment = start + dt.timedelta(seconds=rng.randrange(span))
            writer.writerow([i, rng.randrange(customers), when(moment), amount(rng.uniform(-20, 2500))])


def run(python_path: Path, folder: Path, cache: Path) -> float:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "KPI_LOAD_PLUGINS": ""}
    # kpicore from python_path, ahead of the editable install (PathFinder runs before its finder).
    code = f"import sys; sys.path.insert(0, {str(python_path)!r}); from kpicore.cli import main; main()"
    command = [sys.executable, "-c", code]
    command += ["compute", "all", "--period", "last-week", "--source", str(folder), "--format", "json"]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=folder.parent, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"kpi compute failed ({python_path}): {done.stderr.strip()}")
    return elapsed


def baseline_tree(ref: str, into: Path) -> Path:
    """The kpicore package of ``ref`` (the merge base with it), unpacked with git archive."""
    base = subprocess.run(
        ["git", "merge-base", "HEAD", ref], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    archive = subprocess.run(["git", "archive", base, "kpicore"], cwd=ROOT, capture_output=True, check=True)
    into.mkdir(parents=True)
    subprocess.run(["tar", "x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", default="main", help="git ref whose merge base is 'today'")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kpicore-files-bench-"))
    try:
        today = baseline_tree(args.baseline, work / "today")
        rows = []
        for layout in ("iso", "dmy"):
            folder = work / layout / "data"
            write_folder(folder, args.orders, layout)
            first, second, before = [], [], []
            for attempt in range(args.repeat):
                cache = work / layout / f"cache{attempt}"
                first.append(run(ROOT, folder, cache))
                second.append(run(ROOT, folder, cache))
                before.append(run(today, folder, work / layout / "no-cache"))
            rows.append((layout, *(statistics.median(t) for t in (first, second, before))))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"| layout ({args.orders:,} orders) | first run | second run | today | second / today |")
    print("|---|---|---|---|---|")
    names = {"iso": "ISO 8601 text, plain amounts", "dmy": "D.M.Y text, amounts `1.234,50 €`"}
    for layout, first, second, before in rows:
        print(
            f"| {names[layout]} | {first:.1f} s | {second:.1f} s | {before:.1f} s | {second / before:.2f} |"
        )


if __name__ == "__main__":
    main()
