import refund_rate


def test_refund_rate(kpi):
    kpi.register(refund_rate)
    result = kpi.compute(
        "refund_rate",
        "2026-W47",
        orders=[
            {"order_id": 1, "customer_id": 1, "ordered_at": "2026-11-16 09:00:00", "amount": 40.0},
            {"order_id": 2, "customer_id": 1, "ordered_at": "2026-11-17 09:00:00", "amount": 60.0},
            {"order_id": 3, "customer_id": 1, "ordered_at": "2026-11-18 09:00:00", "amount": -40.0},
        ],
    )
    assert result.value == 50.0
    assert result.n == 2
