def test_nps_through_every_backend(kpi_all_backends):
    rows = [
        {
            "response_id": 1,
            "customer_id": 1,
            "survey": "nps",
            "score": 10,
            "responded_at": "2026-11-16 00:00:00",
        },
        {
            "response_id": 2,
            "customer_id": 1,
            "survey": "nps",
            "score": 3,
            "responded_at": "2026-11-22T23:59:59Z",
        },
        {
            "response_id": 3,
            "customer_id": 1,
            "survey": "nps",
            "score": 9,
            "responded_at": "2026-11-23 00:00:00",
        },
        {
            "response_id": 4,
            "customer_id": 1,
            "survey": "nps",
            "score": 11,
            "responded_at": "2026-11-17 00:00:00",
        },
    ]
    result = kpi_all_backends.compute("nps", "2026-W47", survey_responses=rows)
    assert result.value == 0.0
    assert result.n == 2
    assert [w.count for w in result.warnings] == [1]
