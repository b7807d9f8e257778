"""Where a second weekly digest's time goes: each step of its refresh and answer timed alone.

    python benchmarks/incremental_steps.py --scale 1000000 --source postgresql --layout tidy --rounds 3

The same data and digests as ``benchmarks/incremental.py`` (2026-W47 a week after the first digest). The
first digest's store is built once and kept in ``--store`` (a copy restored before each round). Each
round then runs, one at a time and in this order, the steps of ``store.refresh``'s increment
(``store._increment``) and of the answer's live rows (``answer._tail``), calling the same functions:
the fingerprint (one scan on PostgreSQL, two queries elsewhere), then for the week entering the
aggregates and for the live week: the source query with every row fetched, their conversion and insert
into the state database, the per-day sums, the span's customers, counting the firsts, and (the week
entering) the upsert of the stored customers and the days. It mirrors those two functions step by step:
a change to them should be made here too. Times per round are printed, with the load average.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))

import generate  # noqa: E402 - the benchmarks folder is on sys.path only now


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100_000, help="customers (orders = 10 x)")
    parser.add_argument("--source", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--layout", choices=generate.LAYOUTS, default="shuffled")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--out", type=Path, default=generate.DEFAULT_OUT, help="folder of the generated files"
    )
    parser.add_argument("--pg-url", default=generate.PG_URL)
    parser.add_argument(
        "--store", type=Path, default=None, help="folder keeping the built store (default: a temporary one)"
    )
    args = parser.parse_args(argv)

    from kpicore.config import Config, SourceConfig
    from kpicore.connectors import open_source
    from kpicore.incremental import store
    from kpicore.plugins import new_plugin_manager
    from kpicore.registry import build_registry
    from kpicore.state import open_state

    registry = build_registry(new_plugin_manager(load_entry_points=False))
    if args.source == "sqlite":
        url, schema = str(generate.sqlite_path(args.out, args.scale, args.layout)), None
    else:
        url, schema = args.pg_url, generate.postgres_schema(args.scale, args.layout)
    source_config = SourceConfig(schema=schema, timeout=3600)
    config = Config()
    config.source = source_config
    second_now = generate.DATA_END + dt.timedelta(hours=6)
    folder = args.store or Path(os.environ.get("TMPDIR", "/tmp")) / f"kpi-steps-{args.source}-{args.scale}"
    folder.mkdir(parents=True, exist_ok=True)
    built, state = folder / "built.db", folder / "state.db"
    if not built.exists():
        source, engine = open_source(url, source_config, registry), open_state(str(state))
        started = time.perf_counter()
        store.refresh(source, config, engine, late_data=7 * 86400, now=second_now - dt.timedelta(days=7))
        print(f"first digest's store built in {time.perf_counter() - started:.1f} s", flush=True)
        source.close()
        engine.dispose()
        shutil.copy(state, built)

    def opened():
        open_state.cache_clear()
        shutil.copy(built, state)
        return open_source(url, source_config, registry), open_state(str(state))

    rounds: dict[str, list[float]] = defaultdict(list)
    for number in range(args.rounds):
        source, engine = opened()
        times, rows = one_round(source, config, engine, second_now)
        source.close()
        engine.dispose()
        for step, seconds in times.items():
            rounds[step].append(seconds)
        print(
            f"round {number + 1}: {sum(times.values()):.2f} s, rows {rows[0]:,} + {rows[1]:,}, "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    for step, seconds in rounds.items():
        print(f"{step:34s} " + " / ".join(f"{s:.2f}" for s in seconds))
    totals = [sum(rounds[step][i] for step in rounds) for i in range(args.rounds)]
    print(f"{'total':34s} " + " / ".join(f"{s:.2f}" for s in totals))
    return 0


def one_round(source, config, engine, now) -> tuple[dict[str, float], tuple[int, int]]:
    """One second digest's refresh and live rows, step by step (``store._increment``, ``answer._tail``)."""
    import sqlalchemy as sa

    from kpicore.incremental import merge, sql, store
    from kpicore.state import state_dialect

    dialect = state_dialect(engine)
    zone = source.timezone
    times: dict[str, float] = {}
    clock = [time.perf_counter()]

    def step(name: str) -> None:
        now_ = time.perf_counter()
        times[name] = now_ - clock[0]
        clock[0] = now_

    stored = store.read_meta(engine)
    old_cutoff = dt.datetime.fromisoformat(stored["cutoff"])
    cutoff = store.cutoff_for(now, 7 * 86400, zone)
    if source.engine.dialect.name in sql.ONE_SCAN:
        older, added = store._fingerprints(source, old_cutoff, cutoff)
        step("fingerprint (one scan)")
    else:
        older = store._fingerprint(source, None, old_cutoff)
        step("fingerprint of the older rows")
        added = store._fingerprint(source, old_cutoff, cutoff)
        step("fingerprint of the week")
    if not store._same_months(older, store._stored_months(engine)):
        raise SystemExit("the fingerprint moved: the data changed since the store was built (remove --store)")
    first = old_cutoff.astimezone(zone).date()
    boundaries = sql.midnights(first, cutoff.astimezone(zone).date(), zone)
    counts: dict[str, dict[int, float]] = {k: defaultdict(int) for k in store.DAY_COUNTS}
    clock[0] = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(
            sa.update(store.meta).where(store.meta.c.key == "cutoff").values(value=cutoff.isoformat())
        )
        store.roomy(connection)
        with merge.span_table(connection) as span:
            batches = list(store._stream(source, sql.span_query(source, old_cutoff, first, boundaries)))
            step("week: source query, rows fetched")
            week_rows = merge.load(connection, span, batches)
            del batches
            step("week: converted, inserted")
            merge.add_totals(connection, span, counts)
            step("week: per-day sums")
            with merge.span_customers(connection, span) as found:
                step("week: the span's customers")
                merge.add_firsts(connection, found, store.customers, counts)
                step("week: counting the firsts")
                merge.extend_customers(connection, dialect, found, store.customers)
                step("week: upsert of the customers")
        per_day = {day: store._day_row(day) for k in store.DAY_COUNTS[:3] for day in counts[k]}
        for day, row in per_day.items():
            for k in store.DAY_COUNTS[:3]:
                row[k] += counts[k].get(day, 0)
        firsts = {k: counts[k] for k in store.DAY_COUNTS[3:]}
        existing = store.read_days_in(connection, set(per_day) | {d for c in firsts.values() for d in c})
        store._write_days(connection, dialect, per_day, firsts, existing)
        store._write_months(connection, dialect, store._merged(older, added))
    step("week: days, fingerprint, commit")
    totals: dict[str, dict[int, float]] = {k: defaultdict(float) for k in store.DAY_COUNTS}
    with engine.begin() as connection:
        store.roomy(connection)
        with merge.span_table(connection) as span:
            batches = list(store._stream(source, sql.tail_query(source, [cutoff, generate.DATA_END])))
            step("live: source query, rows fetched")
            live_rows = merge.load(connection, span, batches)
            del batches
            step("live: converted, inserted")
            merge.add_totals(connection, span, totals)
            step("live: per-day sums")
            with merge.span_customers(connection, span) as found:
                step("live: the span's customers")
                merge.add_firsts(connection, found, store.customers, totals)
                step("live: counting the firsts")
    step("live: commit")
    return times, (week_rows, live_rows)


if __name__ == "__main__":
    sys.exit(main())
