"""Where kpicore's compute time goes: each entity query timed on its own, with the database's plan.

    python benchmarks/explain.py --scale 100000 --source sqlite [--analyze]

Builds exactly the queries ``kpicore.compute`` runs for every registered metric over the benchmark
period and the one before (``--case plain``) or its 12-week trend as well (``--case trend``), prints
their size (CASE expressions, characters of SQL), runs each one alone and prints its time and the plan
(SQLite ``EXPLAIN QUERY PLAN``; PostgreSQL ``EXPLAIN`` or, with ``--analyze``, ``EXPLAIN ANALYZE``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))

import generate  # noqa: E402 - the benchmarks folder is on sys.path only now
import run  # noqa: E402 - the benchmarks folder is on sys.path only now


def main(argv: list[str] | None = None) -> int:
    import sqlalchemy as sa

    from kpicore import compute as engine
    from kpicore.compute import measure_query, plan, select_metrics
    from kpicore.config import SourceConfig
    from kpicore.connectors import open_source
    from kpicore.periods import parse_period
    from kpicore.plugins import new_plugin_manager
    from kpicore.registry import build_registry

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, required=True)
    parser.add_argument("--source", choices=run.SOURCES, default="sqlite")
    parser.add_argument("--analyze", action="store_true", help="PostgreSQL: EXPLAIN ANALYZE")
    parser.add_argument("--sql", action="store_true", help="print each query's SQL")
    parser.add_argument(
        "--per-window",
        action="store_true",
        help="show the one-CASE-per-window query for every measure (the engine before bucketing)",
    )
    parser.add_argument(
        "--parse-each-time",
        action="store_true",
        help="SQLite: no MATERIALIZED CTE, datetime() in every comparison (the engine before it)",
    )
    parser.add_argument(
        "--floor", action="store_true", help="also time each query of the hand-written SQL floor"
    )
    parser.add_argument(
        "--case",
        choices=run.CASES,
        default="trend",
        help="plain (the period and the one before) or trend (and the 12-week trend)",
    )
    parser.add_argument("--out", type=Path, default=generate.DEFAULT_OUT)
    parser.add_argument("--pg-url", default=generate.PG_URL)
    parser.add_argument("--mysql-url", default=generate.MYSQL_URL)
    parser.add_argument(
        "--layout", choices=generate.LAYOUTS, default="tidy", help="the data layout (generate.py)"
    )
    args = parser.parse_args(argv)

    if args.parse_each_time:
        from kpicore.source import Source

        Source.parsed_relation = lambda self, name, where=None: None
    registry = build_registry(new_plugin_manager(load_entry_points=False))
    metrics = select_metrics(["all"], registry)
    period = parse_period(generate.BENCHMARK_PERIOD, "UTC")
    windows = [period, period.previous()]
    if args.case == "trend":
        windows += [
            w for w in period.trend(run.TREND) if all((w.start, w.end) != (x.start, x.end) for x in windows)
        ]
    url, schema = run.kpicore_source(args)
    began = time.perf_counter()
    source = open_source(url, SourceConfig(schema=schema, timeout=3600), registry)
    the_plan = plan(metrics, source, windows)  # reflects the tables the metrics read
    print(f"opening the source and reflecting its tables: {time.perf_counter() - began:.3f} s")
    print(f"{len(metrics)} metrics, {len(windows)} windows, source {source.display}")
    if args.per_window:
        queries = [
            (f"{entity}: {len(measures)} measures x {len(windows)} windows, per-window CASE", q)
            for entity, measures in the_plan.measures.items()
            for q in [measure_query(source, entity, measures, windows)]
        ]
    else:  # exactly the engine's queries, in the order it starts them
        queries = [
            (f"{entity} query {i + 1}", statement)
            for i, (entity, (statement, _)) in enumerate(
                engine.queries._labelled_queries(source, the_plan, windows)
            )
        ]
    total = 0.0
    for title, statement in queries:
        sql = source.compile(statement)
        began, cpu = time.perf_counter(), time.process_time()
        source.execute(statement)
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
        total += seconds
        print(
            f"\n== {title}: {sql.count('CASE')} CASE, {sql.count('datetime(')} datetime(), "
            f"{len(sql):,} chars of SQL; {seconds:.3f} s"
            + (
                f" ({cpu:.3f} s of this process's CPU: SQLite's own)"
                if source.dialect.name == "sqlite"
                else ""
            )
        )
        if args.sql:
            print(sql)
        if source.dialect.name == "sqlite":
            explain = f"EXPLAIN QUERY PLAN {sql}"
        elif source.dialect.name == "postgresql":
            explain = f"EXPLAIN {'(ANALYZE, BUFFERS) ' if args.analyze else ''}{sql}"
        else:
            explain = f"EXPLAIN {sql}"
        with source.engine.connect() as connection:
            if source.dialect.name == "mysql":  # the compiled SQL has its % doubled for pymysql already
                plan_rows = connection.exec_driver_sql(explain, ())
            else:
                plan_rows = connection.execute(sa.text(explain.replace(":", "\\:")))
            for row in plan_rows:
                print("   ", " | ".join(str(value) for value in row if value is not None))
    print(f"\nentity queries: {total:.3f} s in all")
    source.close()
    if args.floor:
        time_floor(args, [m.name for m in metrics])
    return 0


def time_floor(args, metric_names: list[str]) -> None:
    """Time each query of the hand-written floor for the same metrics."""
    import baselines

    names = [name for name in baselines.STOCK_METRICS if name in metric_names]
    dialect = baselines.Dialect("duckdb" if args.source == "parquet" else args.source)
    connection, execute = run._sql_connection(args)
    total = 0.0
    windows = run.benchmark_windows(count=run.TREND if args.case == "trend" else 2)
    for table, sql in baselines.floor_queries(windows, dialect, names, plain=args.case == "plain").items():
        began, cpu = time.perf_counter(), time.process_time()
        rows = execute(sql)
        seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
        total += seconds
        own = f" ({cpu:.3f} s CPU in this process)" if args.source == "sqlite" else ""
        print(f"floor {table}: {len(rows)} rows, {seconds:.3f} s{own}")
    connection.close()
    print(f"floor queries: {total:.3f} s in all")


if __name__ == "__main__":
    sys.exit(main())
