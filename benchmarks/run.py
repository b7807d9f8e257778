"""Benchmark kpicore's compute against a hand-written SQL floor and a pandas script, on the same data.

    python benchmarks/run.py --scale 100000 --source sqlite --repeat 3
    python benchmarks/run.py --cli                     # time of `kpi --help` only

For one ISO week (``generate.BENCHMARK_PERIOD``) and the week before, in two cases (``--case``): *plain*,
the value and previous a digest and ``/kpi`` ask for, and *trend*, with a 12-week trend as well. Three
computations run, each in its own process so that their peak memory is their own:

* kpicore: ``compute(select_metrics(["all"]), period, source, trend=12 or None)`` through the public engine;
* sql: the hand-written floor of ``baselines.sql_floor`` (each table read once; in the plain case the
  lifetime metrics from one pass over orders grouped by customer);
* pandas: ``baselines.pandas_baseline`` after loading every table into DataFrames (``--skip-pandas``
  leaves it out: kpicore against the floor only).

Each reports wall time (median of ``--repeat`` runs, connection and loading included), peak RSS
(``getrusage``) and the rows it moved from the database into Python. The script checks that the
three agree on every value (value, previous and trend, relative tolerance 1e-6) for every metric
kpicore has registered, and exits 1 with a loud message when they do not. Missing data is generated
first. Each run appends one JSON line to ``benchmarks/results.jsonl``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))

import baselines  # noqa: E402 - the benchmarks folder is on sys.path only now
import generate  # noqa: E402 - the benchmarks folder is on sys.path only now

APPROACHES = ("kpicore", "sql", "pandas")
SOURCES = ("sqlite", "postgresql", "mysql", "parquet", "spark")
#: Sources that read the generated Parquet folder (spark: through a Spark Connect server, entities mapped by path).
PARQUET_SOURCES = ("parquet", "spark")
TREND = 12
#: The computations benchmarked: value and previous alone (a digest, /kpi), and with the 12-week trend.
CASES = ("plain", "trend")
RESULTS = BENCHMARKS / "results.jsonl"
TIME_COLUMNS = generate.TIME_COLUMNS


def benchmark_windows(
    period: str = generate.BENCHMARK_PERIOD, count: int = TREND
) -> list[tuple[datetime, datetime]]:
    """The ``count`` ISO weeks ending with ``period`` (UTC), oldest first, as (start, end)."""
    year, week = period.split("-W")
    monday = datetime.fromisocalendar(int(year), int(week), 1).replace(tzinfo=UTC)
    return [
        (monday - timedelta(weeks=back), monday - timedelta(weeks=back - 1))
        for back in range(count - 1, -1, -1)
    ]


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


# -- the three workers --------------------------------------------------------------------------------
def trend_of(args) -> int | None:
    """The trend length of the case measured (None: value and previous only)."""
    return TREND if args.case == "trend" else None


def windows_of(args) -> list[tuple[datetime, datetime]]:
    """The windows the baselines compute: the trend's weeks, or the previous week and the period."""
    return benchmark_windows(count=trend_of(args) or 2)


def run_kpicore(args) -> dict:
    """Time the public engine; values as {metric: [trend values...]} plus value and previous."""
    from kpicore.compute import compute, select_metrics
    from kpicore.config import SourceConfig
    from kpicore.connectors import open_source
    from kpicore.periods import parse_period
    from kpicore.plugins import new_plugin_manager
    from kpicore.registry import build_registry

    loaded = new_plugin_manager(load_entry_points=False)
    entities = {}
    if args.source == "spark":
        import kpicore_spark

        from kpicore.config import EntityMapping

        loaded.manager.register(kpicore_spark)
        folder = generate.folder_path(args.out, args.scale, "parquet")
        entities = {
            name: EntityMapping(options={"path": str(folder / f"{name}.parquet")})
            for name in (*TIME_COLUMNS, "marketing_spend")
        }
    registry = build_registry(loaded)
    metrics = select_metrics(["all"], registry)
    period = parse_period(generate.BENCHMARK_PERIOD, "UTC")
    url, schema = kpicore_source(args)
    seconds, fetched, results = [], [], []
    for _ in range(args.warm_up + args.repeat):
        began = time.perf_counter()
        source = open_source(url, SourceConfig(schema=schema, timeout=3600, entities=entities), registry)
        fetched = []  # rows per query; list.append is atomic, and compute runs queries on several threads
        execute = source.execute

        def counting_execute(statement, execute=execute, fetched=fetched):
            rows = execute(statement)
            fetched.append(len(rows))
            return rows

        source.execute = counting_execute
        try:
            results = compute(metrics, period, source, trend=trend_of(args))
        finally:
            source.close()
        seconds.append(time.perf_counter() - began)
    seconds = seconds[args.warm_up :]
    values = {
        result.metric: {
            "status": result.status,
            "value": result.value,
            "previous": result.previous,
            "trend": [point.value for point in result.trend or []],
        }
        for result in results
    }
    return {"seconds": seconds, "rows": sum(fetched), "values": values}


def kpicore_source(args) -> tuple[str, str | None]:
    if args.source == "sqlite":
        return str(generate.sqlite_path(args.out, args.scale, args.layout)), None
    if args.source == "postgresql":
        return args.pg_url, generate.postgres_schema(args.scale, args.layout)
    if args.source == "mysql":
        return _mysql_database_url(args), None
    if args.source == "spark":
        return args.spark_url, None
    return str(generate.folder_path(args.out, args.scale, "parquet")), None


def _mysql_database_url(args) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(args.mysql_url).set(database=generate.postgres_schema(args.scale, args.layout))
    return url.render_as_string(hide_password=False)


def run_sql(args) -> dict:
    """Time the hand-written floor queries (a new connection per run)."""
    windows = windows_of(args)
    dialect = baselines.Dialect("duckdb" if args.source == "parquet" else args.source)  # spark: Spark SQL
    seconds, values, fetched = [], {}, 0
    for _ in range(args.warm_up + args.repeat):
        began = time.perf_counter()
        connection, run = _sql_connection(args)
        try:
            values, fetched = baselines.sql_floor(
                run, windows, dialect, metrics=args.metrics, plain=args.case == "plain"
            )
        finally:
            connection.close()
        seconds.append(time.perf_counter() - began)
    return {"seconds": seconds[args.warm_up :], "rows": fetched, "values": values}


def _sql_connection(args):
    if args.source == "sqlite":
        path = generate.sqlite_path(args.out, args.scale, args.layout).resolve()
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)

        def run(sql):
            cursor = connection.execute(sql)
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=False)) for row in cursor.fetchall()]

        return connection, run
    if args.source == "postgresql":
        import psycopg
        from psycopg.rows import dict_row

        connection = psycopg.connect(args.pg_url, autocommit=True, row_factory=dict_row)
        connection.execute(f"SET search_path TO {generate.postgres_schema(args.scale, args.layout)}")
        connection.execute("SET TimeZone = 'UTC'")
        return connection, lambda sql: connection.execute(sql).fetchall()
    if args.source == "mysql":
        import pymysql
        import pymysql.cursors
        from sqlalchemy.engine import make_url

        url = make_url(args.mysql_url)
        connection = pymysql.connect(
            host=url.host,
            port=url.port or 3306,
            user=url.username,
            password=url.password or "",
            database=generate.postgres_schema(args.scale, args.layout),
            init_command="SET time_zone = '+00:00'",
            cursorclass=pymysql.cursors.DictCursor,
        )

        def run(sql):
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return list(cursor.fetchall())

        return connection, run
    if args.source == "spark":
        return _spark_connection(args)
    import duckdb

    connection = duckdb.connect()
    folder = generate.folder_path(args.out, args.scale, "parquet")
    for name in TIME_COLUMNS | {"marketing_spend": ()}:
        connection.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{folder / (name + '.parquet')}')"
        )

    def run(sql):
        cursor = connection.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=False)) for row in cursor.fetchall()]

    return connection, run


def _spark_connection(args):
    """A Spark Connect session with one temporary view per Parquet file, in UTC."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support pandas.*")
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    from pyspark.sql import SparkSession

    session = SparkSession.builder.remote(args.spark_url).create()
    session.conf.set("spark.sql.session.timeZone", "UTC")
    folder = generate.folder_path(args.out, args.scale, "parquet")
    for name in TIME_COLUMNS | {"marketing_spend": ()}:
        session.sql(
            f"CREATE OR REPLACE TEMPORARY VIEW {name} USING parquet "
            f"OPTIONS (path '{folder / (name + '.parquet')}')"
        ).collect()

    class Closing:
        def close(self):
            session.stop()

    return Closing(), lambda sql: session.sql(sql).toArrow().to_pylist()


def run_pandas(args) -> dict:
    """Time loading every table into pandas and computing the metrics there."""
    windows = windows_of(args)
    seconds, values, fetched = [], {}, 0
    for _ in range(args.warm_up + args.repeat):
        began = time.perf_counter()
        tables = load_tables(args, baselines.tables_for(args.metrics))
        fetched = sum(len(frame) for frame in tables.values())
        values = baselines.pandas_baseline(tables, windows, metrics=args.metrics)
        del tables
        seconds.append(time.perf_counter() - began)
    return {"seconds": seconds[args.warm_up :], "rows": fetched, "values": values}


def load_tables(args, names: set[str]) -> dict:
    """The tables ``names`` as DataFrames (every row and column), time columns as naive UTC datetime64."""
    import pandas as pd

    if args.source in PARQUET_SOURCES:
        folder = generate.folder_path(args.out, args.scale, "parquet")
        tables = {name: pd.read_parquet(folder / f"{name}.parquet") for name in names}
    elif args.source == "sqlite":
        path = generate.sqlite_path(args.out, args.scale, args.layout).resolve()
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            tables = {name: pd.read_sql(f"SELECT * FROM {name}", connection) for name in names}
        finally:
            connection.close()
    elif args.source == "mysql":
        import sqlalchemy as sa

        engine = sa.create_engine(
            _mysql_database_url(args), connect_args={"init_command": "SET time_zone = '+00:00'"}
        )
        with engine.connect() as connection:
            tables = {name: pd.read_sql(f"SELECT * FROM {name}", connection) for name in names}
        engine.dispose()
    else:
        import sqlalchemy as sa

        engine = sa.create_engine(args.pg_url.replace("postgresql://", "postgresql+psycopg://"))
        schema = generate.postgres_schema(args.scale, args.layout)
        with engine.connect() as connection:
            tables = {name: pd.read_sql(f"SELECT * FROM {schema}.{name}", connection) for name in names}
        engine.dispose()
    for name, frame in tables.items():
        columns = TIME_COLUMNS.get(name, ())
        for column in columns:
            if not pd.api.types.is_datetime64_any_dtype(frame[column]):
                frame[column] = pd.to_datetime(frame[column], format="%Y-%m-%d %H:%M:%S", utc=True)
            if getattr(frame[column].dtype, "tz", None) is not None:
                frame[column] = frame[column].dt.tz_convert("UTC").dt.tz_localize(None)
    return tables


WORKERS = {"kpicore": run_kpicore, "sql": run_sql, "pandas": run_pandas}


def worker_main(args) -> int:
    """Run one approach and print its measurements as the last line of stdout (JSON)."""
    report = WORKERS[args.worker](args)
    report["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(report, default=float))
    return 0


# -- orchestration ------------------------------------------------------------------------------------
def spawn_worker(approach: str, args, metrics: list[str]) -> dict:
    """Run one approach in a fresh process and return its report."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        approach,
        "--scale",
        str(args.scale),
        "--source",
        args.source,
        "--repeat",
        str(args.repeat),
        "--warm-up",
        str(args.warm_up),
        "--out",
        str(args.out),
        "--pg-url",
        args.pg_url,
        "--mysql-url",
        args.mysql_url,
        "--metrics",
        ",".join(metrics),
        "--layout",
        args.layout,
        "--case",
        args.case,
        *(["--spark-url", args.spark_url] if args.spark_url else []),
    ]
    completed = subprocess.run(command, check=False, capture_output=True, text=True)
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr)
        raise SystemExit(f"the {approach} worker failed (exit {completed.returncode})")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def ensure_data(args) -> dict[str, float]:
    """Generate the data for ``--source`` when it is not there yet; return the seconds it took."""
    target = "parquet" if args.source == "spark" else args.source
    if target == "sqlite" and generate.sqlite_path(args.out, args.scale, args.layout).exists():
        return {}
    if (
        target == "parquet"
        and (generate.folder_path(args.out, args.scale, "parquet") / "orders.parquet").exists()
    ):
        return {}
    if target == "postgresql" and _postgres_has_schema(args):
        return {}
    if target == "mysql" and _mysql_has_database(args):
        return {}
    print(f"generating scale {args.scale:,} for {target} ...", file=sys.stderr, flush=True)
    # In a child process: getrusage's peak RSS survives exec on Linux, so the workers must be forked
    # from a parent that never held the data.
    command = [
        sys.executable,
        str(BENCHMARKS / "generate.py"),
        "--scale",
        str(args.scale),
        "--targets",
        target,
        "--out",
        str(args.out),
        "--pg-url",
        args.pg_url,
        "--mysql-url",
        args.mysql_url,
        "--layout",
        args.layout,
    ]
    completed = subprocess.run(command, check=False, capture_output=True, text=True)
    if completed.returncode != 0:
        sys.stderr.write(completed.stderr)
        raise SystemExit(f"benchmark: generating the {target} data failed (exit {completed.returncode})")
    output = completed.stdout
    seconds = {}
    for line in output.splitlines():
        name, _, rest = line.partition(": ")
        seconds[name] = float(rest.split()[0])
    return seconds


def _postgres_has_schema(args) -> bool:
    import psycopg

    from kpicore.connectors import redact

    try:
        connection = psycopg.connect(args.pg_url, connect_timeout=10)
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[0]
        raise SystemExit(
            f"benchmark: cannot connect to PostgreSQL at {redact(args.pg_url)}: {reason}"
        ) from None
    with connection:
        found = connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s",
            (generate.postgres_schema(args.scale, args.layout),),
        ).fetchone()[0]
    return found >= 6


def _mysql_has_database(args) -> bool:
    import sqlalchemy as sa

    from kpicore.connectors import redact

    engine = sa.create_engine(args.mysql_url)
    try:
        with engine.connect() as connection:
            found = connection.execute(
                sa.text("SELECT count(*) FROM information_schema.tables WHERE table_schema = :name"),
                {"name": generate.postgres_schema(args.scale, args.layout)},
            ).scalar()
    except sa.exc.DBAPIError as error:
        reason = str(error.orig).strip().splitlines()[0]
        raise SystemExit(
            f"benchmark: cannot connect to MySQL at {redact(args.mysql_url)}: {reason}"
        ) from None
    finally:
        engine.dispose()
    return found >= 6


def compare(reports: dict[str, dict], trend: int | None = TREND) -> list[str]:
    """Every disagreement between the computations run (pandas may be left out), as readable lines
    (empty when they agree)."""
    problems = []
    kpicore_values = reports["kpicore"]["values"]
    floor = reports["sql"]["values"]
    if "pandas" in reports:
        pandas = reports["pandas"]["values"]
        for metric in floor:
            for k, (a, b) in enumerate(zip(floor[metric], pandas[metric], strict=True)):
                if not baselines.agree(a, b):
                    problems.append(f"{metric} window {k}: sql {a!r} != pandas {b!r}")
    for metric, result in sorted(kpicore_values.items()):
        if metric not in floor:
            problems.append(f"{metric}: kpicore computes it but the baselines have no definition for it")
            continue
        expected = floor[metric]
        got = {"value": result["value"], "previous": result["previous"]}
        got.update({f"trend[{k}]": v for k, v in enumerate(result["trend"])})
        if len(result["trend"]) != (len(expected) if trend else 0):
            problems.append(
                f"{metric}: kpicore trend has {len(result['trend'])} points, expected {trend or 0}"
            )
        wanted = {"value": expected[-1], "previous": expected[-2]}
        wanted.update({f"trend[{k}]": v for k, v in enumerate(expected)})
        for key, value in got.items():
            if key in wanted and not baselines.agree(value, wanted[key]):
                problems.append(
                    f"{metric} {key}: kpicore {value!r} != sql/pandas {wanted[key]!r} ({result['status']})"
                )
    return problems


def machine_info(args) -> dict:
    import duckdb
    import numpy
    import pandas

    info = {
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "duckdb": duckdb.__version__,
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
        "postgresql": None,
    }
    import psycopg

    try:
        with psycopg.connect(args.pg_url, connect_timeout=3) as connection:
            info["postgresql"] = connection.execute("SHOW server_version").fetchone()[0]
    except (ImportError, OSError, psycopg.Error) as error:  # optional for SQLite and Parquet runs
        info["postgresql"] = f"unavailable: {error}"
    return info


def _commit() -> str | None:
    """The checkout's commit, with "+dirty" when kpicore has uncommitted changes."""
    root = BENCHMARKS.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "kpicore"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+dirty" if dirty else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def measure_cli(runs: int = 10) -> dict:
    """Median wall time of `kpi --help` in a fresh process, ``runs`` times."""
    script = Path(sys.executable).with_name("kpi")
    command = (
        [str(script), "--help"]
        if script.exists()
        else [
            sys.executable,
            "-c",
            "import sys; from kpicore.cli import main; sys.argv[0] = 'kpi'; main()",
            "--help",
        ]
    )
    seconds = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        seconds.append(time.perf_counter() - began)
    return {"median_ms": statistics.median(seconds) * 1000, "min_ms": min(seconds) * 1000, "runs": runs}


def print_table(args, reports: dict[str, dict], orders: int) -> dict:
    labels = {"kpicore": "kpicore", "sql": "SQL floor", "pandas": "pandas"}
    trend = f" + {TREND}-week trend" if trend_of(args) else " (plain: no trend)"
    print(
        f"\nscale {args.scale:,} customers / {orders:,} orders, source {args.source}, layout {args.layout}, "
        f"period {generate.BENCHMARK_PERIOD} + previous{trend}, median of {args.repeat}"
    )
    print(f"{'approach':<10} {'median s':>9} {'runs s':>24} {'peak RSS MB':>12} {'rows to Python':>15}")
    for approach in reports:
        report = reports[approach]
        runs = ", ".join(f"{s:.2f}" for s in report["seconds"])
        print(
            f"{labels[approach]:<10} {report['median_s']:>9.3f} {runs:>24} {report['peak_rss_mb']:>12.0f} "
            f"{report['rows']:>15,}"
        )
    ratios = {"kpicore_over_floor": reports["kpicore"]["median_s"] / reports["sql"]["median_s"]}
    if "pandas" in reports:
        ratios["pandas_over_kpicore"] = reports["pandas"]["median_s"] / reports["kpicore"]["median_s"]
    print(
        "; ".join(
            [
                f"kpicore / SQL floor = {ratios['kpicore_over_floor']:.2f}x",
                *(
                    [f"pandas / kpicore = {ratios['pandas_over_kpicore']:.2f}x"]
                    if "pandas_over_kpicore" in ratios
                    else ["pandas not run"]
                ),
                f"load average {' '.join(f'{load:.1f}' for load in os.getloadavg())}",
            ]
        )
    )
    return ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, help="customers (orders = 10 x)")
    parser.add_argument("--source", choices=SOURCES, default="sqlite")
    parser.add_argument("--repeat", type=int, default=3, help="runs per approach (the median is reported)")
    parser.add_argument(
        "--warm-up",
        type=int,
        default=0,
        help="unmeasured runs of each approach before its --repeat measured ones (a Spark server's JIT "
        "and file caches are then warm for every approach, not only for the ones after the first)",
    )
    parser.add_argument(
        "--interleave",
        action="store_true",
        help="run the approaches in turn, one run each, --repeat times (each in a fresh process), "
        "rather than each approach's runs one after the other",
    )
    parser.add_argument("--cli", action="store_true", help="also time `kpi --help` (median of 10 runs)")
    parser.add_argument(
        "--out", type=Path, default=generate.DEFAULT_OUT, help="folder of the generated files"
    )
    parser.add_argument("--pg-url", default=generate.PG_URL)
    parser.add_argument("--mysql-url", default=generate.MYSQL_URL)
    parser.add_argument("--results", type=Path, default=RESULTS, help="JSON-lines file to append to")
    parser.add_argument(
        "--baseline-metrics",
        choices=("kpicore", "all"),
        default="kpicore",
        help="baselines compute the stock metrics kpicore has (default), or all 15",
    )
    parser.add_argument(
        "--layout",
        choices=(*generate.LAYOUTS, "both"),
        default="both",
        help="the data layout(s) to run: tidy, shuffled (sqlite and postgresql) or both (default; "
        "tidy alone on mysql and parquet)",
    )
    parser.add_argument(
        "--case",
        choices=(*CASES, "both", "incremental"),
        default="both",
        help="plain (value and previous, no trend), trend (with the 12-week trend) or both (default); "
        "incremental: the second digest and /kpi clv from the incremental aggregates against a full "
        "compute (benchmarks/incremental.py; the shuffled layout unless --layout tidy)",
    )
    parser.add_argument(
        "--spark-url",
        default=None,
        help="Spark Connect server for --source spark (default: start one with local[2] for the run)",
    )
    parser.add_argument(
        "--values-out",
        type=Path,
        default=None,
        help="write kpicore's values (value, previous, trend per metric) as JSON, to compare sources",
    )
    parser.add_argument(
        "--skip-pandas",
        action="store_true",
        help="run kpicore and the SQL floor only (pandas loads every row: on MariaDB at 10 M orders "
        "it takes longer than the other two together many times over)",
    )
    parser.add_argument("--worker", choices=APPROACHES, help=argparse.SUPPRESS)
    parser.add_argument("--metrics", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.metrics = [m for m in args.metrics.split(",") if m]
    if args.worker:
        return worker_main(args)
    if args.case == "incremental":
        import incremental

        return incremental.main(
            [
                f"--scale={args.scale}",
                f"--source={args.source}",
                f"--repeat={args.repeat}",
                f"--out={args.out}",
                f"--pg-url={args.pg_url}",
                f"--results={args.results}",
                # "both" (the default) keeps the incremental benchmark's own default, shuffled
                *([f"--layout={args.layout}"] if args.layout != "both" else []),
            ]
        )
    if args.scale is None and not args.cli:
        parser.error("--scale is required (or --cli alone)")
    if args.layout == "both":
        layouts = ["tidy", "shuffled"] if args.source in generate.SHUFFLED_TARGETS else ["tidy"]
    elif args.layout != "tidy" and args.source not in generate.SHUFFLED_TARGETS:
        parser.error(f"--layout {args.layout} needs --source {' or '.join(generate.SHUFFLED_TARGETS)}")
    else:
        layouts = [args.layout]
    cases = list(CASES) if args.case == "both" else [args.case]
    runs = [(layout, case) for layout in layouts for case in cases]
    status, records = 0, []
    with _spark_server(args):
        for index, (layout, case) in enumerate(runs):
            args.layout, args.case = layout, case
            layout_status, record = run_layout(args, cli=args.cli and index == len(runs) - 1)
            status = max(status, layout_status)
            records.append(record)
    machine = machine_info(args)  # last: it imports pandas, which would inflate the workers' RSS
    with args.results.open("a", encoding="utf-8") as results:
        for record in records:
            results.write(json.dumps({**record, "machine": machine}) + "\n")
    return status


@contextlib.contextmanager
def _spark_server(args):
    """For --source spark without --spark-url: a local Spark Connect server (local[2]) for the run."""
    if args.source != "spark" or args.spark_url or args.scale is None:
        yield
        return
    import tempfile

    from kpicore_spark import server

    workdir = Path(tempfile.mkdtemp(prefix="kpicore-bench-spark-"))
    port = server.free_port()
    process = server.start(port, workdir, cores=2, memory="6g")
    try:
        took = server.wait_until_up(process, port)
        print(
            f"Spark Connect server (local[2]) up in {took:.0f} s on port {port}; logs in {workdir}",
            file=sys.stderr,
            flush=True,
        )
        args.spark_url = f"sc://127.0.0.1:{port}"
        yield
    finally:
        server.stop(process)


def run_layout(args, cli: bool) -> tuple[int, dict]:
    """Benchmark one layout (and ``kpi --help`` when ``cli``): the exit status and the record."""
    record: dict = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "kpicore_commit": _commit(),
        "load_average_before": os.getloadavg(),  # the machine is shared: say how busy it was
    }
    status = 0
    if args.scale is not None:
        generated = ensure_data(args)
        if generated:
            print("generated in " + ", ".join(f"{t} {s:.1f} s" for t, s in generated.items()))
        reports = {}
        metrics: list[str] = []
        approaches = [a for a in APPROACHES if not (a == "pandas" and args.skip_pandas)]
        # --interleave: the approaches in turn, one measured run each per round (the first round with
        # the warm-up runs), so that on a shared machine each approach's runs see the same load.
        rounds = [args]
        if args.interleave:
            rounds = [
                argparse.Namespace(**{**vars(args), "repeat": 1, "warm_up": args.warm_up if k == 0 else 0})
                for k in range(args.repeat)
            ]
        for round_args in rounds:
            for approach in approaches:
                print(f"running {approach} ...", file=sys.stderr, flush=True)
                report = spawn_worker(approach, round_args, metrics)
                runs = ", ".join(f"{seconds:.2f}" for seconds in report["seconds"])
                print(
                    f"{approach}: {runs} s (load average {os.getloadavg()[0]:.1f})",
                    file=sys.stderr,
                    flush=True,
                )
                if approach in reports:  # a later round: its run joins the earlier ones
                    earlier = reports[approach]
                    report["seconds"] = earlier["seconds"] + report["seconds"]
                    report["peak_rss_mb"] = max(earlier["peak_rss_mb"], report["peak_rss_mb"])
                reports[approach] = report
                if approach == "kpicore" and not metrics:
                    # The baselines compute what kpicore computed (stock metrics it has), or all of them.
                    stock = baselines.STOCK_METRICS
                    metrics = (
                        list(stock)
                        if args.baseline_metrics == "all"
                        else [m for m in stock if m in reports["kpicore"]["values"]]
                    )
        for report in reports.values():
            report["median_s"] = statistics.median(report["seconds"])
        if args.values_out:
            args.values_out.write_text(json.dumps(reports["kpicore"]["values"], default=float))
        orders = 10 * args.scale
        ratios = print_table(args, reports, orders)
        problems = compare(reports, trend_of(args))
        checked = sorted(reports["kpicore"]["values"])
        if problems:
            print("\n" + "!" * 72 + "\nMISMATCH: the three computations disagree:", file=sys.stderr)
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
            print("!" * 72, file=sys.stderr)
            status = 1
        else:
            agreed = f"value, previous and {TREND}-week trend" if trend_of(args) else "value and previous"
            if "pandas" in reports:
                print(
                    f"agreement: all three agree on {agreed} of "
                    f"{len(checked)} kpicore metrics ({', '.join(checked)}); the SQL floor and pandas agree "
                    f"on the {len(metrics)} metrics they computed"
                )
            else:
                print(
                    f"agreement: kpicore and the SQL floor agree on {agreed} of "
                    f"{len(checked)} kpicore metrics ({', '.join(checked)}); pandas not run"
                )
        record.update(
            {
                "scale": args.scale,
                "orders": orders,
                "source": args.source,
                "layout": args.layout,
                "repeat": args.repeat,
                "warm_up": args.warm_up,
                "interleave": args.interleave,
                "period": generate.BENCHMARK_PERIOD,
                "case": args.case,
                "trend": trend_of(args),
                "generated_s": generated,
                "results": {
                    a: {k: reports[a][k] for k in ("median_s", "seconds", "peak_rss_mb", "rows")}
                    for a in reports
                },
                "ratios": ratios,
                "agree": not problems,
                "load_average_after": os.getloadavg(),
                "kpicore_metrics": checked,
                "baseline_metrics": metrics,
            }
        )
    if cli:
        record["kpi_help"] = measure_cli()
        print(
            f"kpi --help: median {record['kpi_help']['median_ms']:.0f} ms of 10 runs "
            f"(min {record['kpi_help']['min_ms']:.0f} ms)"
        )
    return status, record


if __name__ == "__main__":
    sys.exit(main())
