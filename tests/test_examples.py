"""The examples stay runnable: configs parse, the custom metric plugin computes."""

import sys
from pathlib import Path

from kpicore.config import load_config

EXAMPLES = Path(__file__).parent.parent / "examples"


def test_example_configs_parse(monkeypatch):
    monkeypatch.setenv("KPI_DB_PASSWORD", "x")
    sqlite = load_config(EXAMPLES / "kpi.sqlite.toml")
    assert sqlite.source.url == "kpi-demo.db"
    postgres = load_config(EXAMPLES / "kpi.postgres.toml")
    assert postgres.source.entities["orders"].scale == {"amount": 0.01}
    assert postgres.source.entities["customers"].dimensions == ["region", "plan"]


def test_custom_metric_example(kpi, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES / "custom-metric"))
    import refund_rate

    kpi.register(refund_rate)
    result = kpi.compute(
        "refund_rate",
        "2026-W47",
        orders=[
            {"order_id": 1, "customer_id": 1, "ordered_at": "2026-11-16 09:00:00", "amount": 40.0},
            {"order_id": 2, "customer_id": 1, "ordered_at": "2026-11-22 23:59:59", "amount": 60.0},
            {"order_id": 3, "customer_id": 1, "ordered_at": "2026-11-18 09:00:00", "amount": -40.0},
            {"order_id": 4, "customer_id": 1, "ordered_at": "2026-11-23 00:00:00", "amount": -10.0},
        ],
    )
    assert result.value == 50.0
    sys.modules.pop("refund_rate", None)
