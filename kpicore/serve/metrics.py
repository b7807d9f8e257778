"""Prometheus metrics of one `kpi serve` process (its own registry, served at ``/metrics``)."""

from __future__ import annotations


class ServiceMetrics:
    """kpicore_fires_total, kpicore_ticks_total, kpicore_deliveries_total{kind,status},
    kpicore_compute_seconds, kpicore_send_seconds."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        self.fires = Counter(
            "kpicore_fires",
            "Schedule fires (including catch-ups and retries)",
            ["kind", "name"],
            registry=self.registry,
        )
        self.ticks = Counter(
            "kpicore_ticks",
            "Ticks (the retry and unknown-delivery pass) run to their end",
            registry=self.registry,
        )
        self.deliveries = Counter(
            "kpicore_deliveries", "Destination outcomes", ["kind", "status"], registry=self.registry
        )
        self.compute_seconds = Histogram(
            "kpicore_compute_seconds", "Time to compute a message", registry=self.registry
        )
        self.send_seconds = Histogram(
            "kpicore_send_seconds", "Time to send a message to its destinations", registry=self.registry
        )

    def exposition(self) -> bytes:
        """The Prometheus text format."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry)
