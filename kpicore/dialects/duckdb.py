"""DuckDB: the embedded engine that reads a folder of CSV and Parquet files in place."""

from __future__ import annotations

import sqlalchemy as sa

from .base import Dialect


class DuckDBDialect(Dialect):
    """DuckDB spreads each query over every core itself, so queries run one at a time."""

    name = "duckdb"

    def concurrency(self, engine):
        return 1

    def epoch(self, value):
        return sa.func.epoch(value)

    def minutes_between(self, start, end):
        return (sa.func.epoch(self.normalized(end)) - sa.func.epoch(self.normalized(start))) / 60.0
