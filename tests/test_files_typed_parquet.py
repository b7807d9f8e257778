"""Parquet columns that already have the canonical type are read as they are, with the same results."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kpicore.compute import compute, select_metrics
from kpicore.config import SourceConfig
from kpicore.connectors import open_source
from kpicore.periods import parse_period
from kpicore.plugins import new_plugin_manager
from kpicore.registry import build_registry

ORDERS = [  # (order_id, customer_id, ordered_at, amount)
    (1, 1, datetime(2026, 11, 16, 0, 0, tzinfo=UTC), 10.0),
    (2, None, datetime(2026, 11, 15, 23, 59, 59, tzinfo=UTC), 20.0),
    (3, 2, datetime(2026, 11, 22, 23, 59, 59, tzinfo=UTC), -5.0),
    (4, 2, datetime(2026, 11, 9, 12, 0, tzinfo=UTC), 7.5),
    (5, 3, None, 100.0),
]
RESPONSES = [  # (response_id, customer_id, survey, score, responded_at as naive local time)
    (1, 1, "nps", 10.0, datetime(2026, 11, 16, 0, 30)),
    (2, 1, "nps", 3.0, datetime(2026, 11, 15, 23, 30)),
    (3, 2, "nps", 7.5, datetime(2026, 11, 17, 9, 0)),
    (4, None, "nps", None, datetime(2026, 11, 18, 9, 0)),
    (5, 3, "nps", 9.0, datetime(2026, 11, 10, 9, 0)),
]


def write_folders(tmp_path):
    typed, text = tmp_path / "typed", tmp_path / "text"
    typed.mkdir()
    text.mkdir()
    order_columns = list(zip(*ORDERS, strict=True))
    pq.write_table(
        pa.table(
            {
                "order_id": pa.array(order_columns[0], pa.int64()),
                "customer_id": pa.array(order_columns[1], pa.int64()),
                "ordered_at": pa.array(order_columns[2], pa.timestamp("s", tz="UTC")),
                "amount": pa.array(order_columns[3], pa.float64()),
            }
        ),
        typed / "orders.parquet",
    )
    response_columns = list(zip(*RESPONSES, strict=True))
    pq.write_table(
        pa.table(
            {
                "response_id": pa.array(response_columns[0], pa.int64()),
                "customer_id": pa.array(response_columns[1], pa.int64()),
                "survey": pa.array(response_columns[2], pa.string()),
                "score": pa.array(response_columns[3], pa.float64()),
                "responded_at": pa.array(
                    response_columns[4], pa.timestamp("s")
                ),  # naive: read in the source timezone
            }
        ),
        typed / "survey_responses.parquet",
    )
    for name, header, rows in (
        ("orders", ["order_id", "customer_id", "ordered_at", "amount"], ORDERS),
        ("survey_responses", ["response_id", "customer_id", "survey", "score", "responded_at"], RESPONSES),
    ):
        with (text / f"{name}.csv").open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            for row in rows:
                writer.writerow(
                    [
                        ""
                        if v is None
                        else v.strftime("%Y-%m-%d %H:%M:%S%z")
                        if isinstance(v, datetime)
                        else v
                        for v in row
                    ]
                )
    return typed, text


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin"])
def test_typed_parquet_matches_csv(tmp_path, tz):
    typed, text = write_folders(tmp_path)
    registry = build_registry(new_plugin_manager(load_entry_points=False))
    metrics = select_metrics(["revenue", "nps"], registry)
    period = parse_period("2026-W47", tz)
    results = {}
    for folder in (typed, text):
        source = open_source(str(folder), SourceConfig(timezone=tz), registry)
        try:
            results[folder.name] = [
                (r.metric, r.value, r.previous, r.n, [(w.message, w.count) for w in r.warnings])
                for r in compute(metrics, period, source, trend=3)
            ]
        finally:
            source.close()
    assert results["typed"] == results["text"]
    assert results["typed"][0][1] is not None
