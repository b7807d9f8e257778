"""Benchmark the incremental lifetime aggregates against a full compute, on the generated data.

    python benchmarks/incremental.py --scale 100000 --source sqlite --repeat 3
    python benchmarks/incremental.py --scale 100000 --source postgresql --pg-url postgresql://postgres@127.0.0.1:5432/test

Metrics ``clv`` and ``repeat_purchase_rate`` for the last week of the data (``generate.BENCHMARK_PERIOD``) and
the week before, without and with a 12-week trend. Phases, in one process:

* build: the first digest's refresh (a week earlier), which computes every aggregate (peak RSS after it);
* full: ``compute`` without the aggregates (median of ``--repeat``);
* second: the second digest a week later: the refresh (the fingerprint of the older rows and the week's
  increment) plus the answer, from the state after the build each time (median of ``--repeat``);
* chat: ``/kpi clv`` for last week as `/kpi` computes it live (the fingerprint checked within the hour),
  p50 and p95 of ``--calls`` calls.

``--layout`` is the generator's: ``shuffled`` (the default here: orders in random customer order) or
``tidy`` (orders stored in time order, as a table appended to as they happen grows).

The values of both ways are checked equal (relative 1e-9); one JSON line goes to stdout and
``benchmarks/results.jsonl``. The machine is shared: ``load`` is the 1-minute load average at the start,
``load_end`` at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))

import generate  # noqa: E402 - the benchmarks folder is on sys.path only now

METRICS = ("clv", "repeat_purchase_rate")
RESULTS = BENCHMARKS / "results.jsonl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100_000, help="customers (orders = 10 x)")
    parser.add_argument("--source", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--layout", choices=generate.LAYOUTS, default="shuffled")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--calls", type=int, default=20, help="/kpi calls timed for the p95")
    parser.add_argument(
        "--out", type=Path, default=generate.DEFAULT_OUT, help="folder of the generated files"
    )
    parser.add_argument("--pg-url", default=generate.PG_URL)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    from kpicore.compute import ANSWERS, compute, select_metrics
    from kpicore.config import Config, SourceConfig
    from kpicore.connectors import open_source
    from kpicore.incremental import store
    from kpicore.incremental.answer import ANSWERED_CACHE, CHECKED, Provider
    from kpicore.periods import parse_period
    from kpicore.plugins import new_plugin_manager
    from kpicore.registry import build_registry
    from kpicore.state import open_state

    load = os.getloadavg()[0]
    registry = build_registry(new_plugin_manager(load_entry_points=False))
    metrics = select_metrics(METRICS, registry)
    if args.source == "sqlite":
        url, schema = str(generate.sqlite_path(args.out, args.scale, args.layout)), None
    else:
        url, schema = args.pg_url, generate.postgres_schema(args.scale, args.layout)
    source_config = SourceConfig(schema=schema, timeout=3600)
    config = Config()
    config.source = source_config
    period = parse_period(generate.BENCHMARK_PERIOD, "UTC")
    second_now = generate.DATA_END + timedelta(hours=6)  # the Monday digest after the data's last week
    first_now = second_now - timedelta(days=7)
    folder = Path(tempfile.mkdtemp(prefix="kpi-incremental-"))
    state_path = folder / "state.db"
    built_path = folder / "built.db"

    def run(provider, trend):
        source = open_source(url, source_config, registry)
        token = ANSWERS.set(provider)
        try:
            results = compute(metrics, period, source, config=config, trend=trend)
        finally:
            ANSWERS.reset(token)
            source.close()
        return [(r.value, r.previous, [p.value for p in r.trend or []]) for r in results]

    def provider(now, verify_every=0.0):
        engine = open_state(str(state_path))
        return Provider(
            config,
            engine,
            late_data=7 * 86400,
            recompute="never",
            full=False,
            verify_every=verify_every,
            now=now,
        )

    figures: dict = {
        "scale": args.scale,
        "orders": args.scale * 10,
        "source": args.source,
        "layout": args.layout,
    }
    began = time.perf_counter()
    source = open_source(url, source_config, registry)
    engine = open_state(str(state_path))
    built = store.refresh(source, config, engine, late_data=7 * 86400, now=first_now)
    source.close()
    figures["build_s"] = round(time.perf_counter() - began, 2)
    figures["build_kind"] = built.kind
    figures["rss_after_build_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    engine.dispose()
    shutil.copy(state_path, built_path)

    for trend in (None, 12):
        case = "plain" if trend is None else "trend"
        full_times, second_times = [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            full = run(None, trend)
            full_times.append(time.perf_counter() - started)
        for _ in range(args.repeat):
            open_state.cache_clear()
            shutil.copy(built_path, state_path)
            CHECKED.clear()
            ANSWERED_CACHE.clear()
            started = time.perf_counter()
            answering = provider(second_now)
            second = run(answering, trend)
            second_times.append(time.perf_counter() - started)
            if answering.answered != 1 or answering.last_refresh.kind != "increment":
                raise SystemExit(f"the second digest was not incremental: {answering.last_refresh}")
        check(full, second)
        full_s, second_s = statistics.median(full_times), statistics.median(second_times)
        figures[case] = {
            "full_s": round(full_s, 3),
            "second_digest_s": round(second_s, 3),
            "ratio": round(second_s / full_s, 3),
        }

    chat = provider(second_now, verify_every=3600.0)
    run(chat, 12)  # the refresh, once
    calls = []
    for _ in range(args.calls):
        started = time.perf_counter()
        run(chat, 12)
        calls.append(time.perf_counter() - started)
    calls.sort()
    figures["chat_p50_ms"] = round(1000 * statistics.median(calls), 1)
    figures["chat_p95_ms"] = round(1000 * calls[max(0, round(0.95 * len(calls)) - 1)], 1)
    figures["rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    figures["load"] = round(load, 2)
    figures["load_end"] = round(os.getloadavg()[0], 2)
    figures["cores"] = os.cpu_count()
    figures["kind"] = "incremental"
    figures["at"] = datetime.now(UTC).isoformat(timespec="seconds")
    figures["kpicore_commit"] = _commit()
    line = json.dumps(figures)
    print(line)
    with args.results.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    return 0


def _commit() -> str:
    import subprocess

    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=BENCHMARKS
    )
    return done.stdout.strip()


def check(full, second) -> None:
    """Both ways give the same values (relative 1e-9), or the benchmark stops loudly."""
    import math

    def close(a, b):
        if a is None or b is None:
            return a is b
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)

    for (v, p, t), (v2, p2, t2) in zip(full, second, strict=True):
        if not (close(v, v2) and close(p, p2) and len(t) == len(t2) and all(map(close, t, t2))):
            raise SystemExit(f"MISMATCH: full {(v, p, t)} incremental {(v2, p2, t2)}")


if __name__ == "__main__":
    sys.exit(main())
