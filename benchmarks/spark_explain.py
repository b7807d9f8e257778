"""How kpicore's queries on Spark scale: for each query of `compute all` (one ISO week, the week before and a
12-week trend), the tables it scans, the filters pushed into the Parquet scan and the shuffles (Exchange
nodes) in Spark's physical plan; the input splits of each file come from its size and
``spark.sql.files.maxPartitionBytes``. Nothing is executed but EXPLAIN.

    python benchmarks/spark_explain.py --url sc://127.0.0.1:15002 --folder /data/bench_1000000_parquet \
        --capture /data/bench_20000_parquet
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))

import generate  # noqa: E402 - the benchmarks folder is on sys.path only now


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="the Spark Connect server (sc://host:port)")
    parser.add_argument("--folder", type=Path, required=True, help="the benchmark's Parquet folder")
    parser.add_argument(
        "--capture",
        type=Path,
        default=None,
        help="a smaller folder of the same tables to run the compute on (only the SQL is kept)",
    )
    args = parser.parse_args(argv)

    import kpicore_spark
    import sqlalchemy as sa
    from kpicore_spark import dbapi

    from kpicore.compute import compute, select_metrics
    from kpicore.config import EntityMapping, SourceConfig
    from kpicore.connectors import open_source
    from kpicore.periods import parse_period
    from kpicore.plugins import new_plugin_manager
    from kpicore.registry import build_registry

    loaded = new_plugin_manager(load_entry_points=False)
    loaded.manager.register(kpicore_spark)
    registry = build_registry(loaded)
    names = [p.stem for p in sorted(args.folder.glob("*.parquet"))]
    run_on = args.capture or args.folder
    entities = {name: EntityMapping(options={"path": str(run_on / f"{name}.parquet")}) for name in names}
    source = open_source(args.url, SourceConfig(entities=entities, timeout=3600), registry)
    split = int(source.session.conf.get("spark.sql.files.maxPartitionBytes").rstrip("b") or 134217728)
    splits = {f"kpicore_{n}": math.ceil((args.folder / f"{n}.parquet").stat().st_size / split) for n in names}
    statements = []
    original = source.execute

    def explained(statement):
        sql = source.compile(statement)
        statements.append(sql)
        return original(statement)

    source.execute = explained
    compute(
        select_metrics(["all"], registry), parse_period(generate.BENCHMARK_PERIOD, "UTC"), source, trend=12
    )
    for name in names:  # the plans are of the big folder's files
        source.session.sql(
            f"CREATE OR REPLACE TEMPORARY VIEW kpicore_{name} USING parquet "
            f"OPTIONS (path '{args.folder / (name + '.parquet')}')"
        ).collect()
    print(
        f"{len(statements)} queries; input splits per file (maxPartitionBytes {split >> 20} MB): "
        + ", ".join(f"{k.removeprefix('kpicore_')} {v}" for k, v in splits.items())
    )
    for index, sql in enumerate(statements, 1):
        plan = source.session.sql("EXPLAIN FORMATTED " + sql).toArrow().column(0)[0].as_py()
        scans = [Path(p).stem for p in re.findall(r"Location: \w+ \[([^\]]+)\]", plan)]
        exchanges = len(re.findall(r"^\(\d+\) Exchange", plan, re.MULTILINE))
        pushed = sorted(set(re.findall(r"PushedFilters: \[([^\]]*)\]", plan)))
        read = ", ".join(f"{t} ({splits.get('kpicore_' + t, '?')} splits)" for t in scans)
        print(
            f"query {index}: scans {read}; shuffles {exchanges}; pushed filters: "
            + ("; ".join(p[:160] for p in pushed if p) or "none")
        )
    source.close()
    del dbapi, sa
    return 0


if __name__ == "__main__":
    sys.exit(main())
