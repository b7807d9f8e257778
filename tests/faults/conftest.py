"""Fixtures of the fault suite (the shared ones come from tests/conftest.py)."""

from tests.test_serve import pg_state_url, servers  # noqa: F401 - kpi serve cleanup; a throw-away state DB
