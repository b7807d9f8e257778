"""Fixtures of the fault suite (the shared ones come from tests/conftest.py)."""

from tests.test_serve import servers  # noqa: F401 - the fixture that kills leftover `kpi serve` processes
