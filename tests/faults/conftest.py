"""Fixtures of the fault suite (the shared ones come from tests/conftest.py)."""

from tests.test_serve import pg_state_url  # noqa: F401 - a throw-away state DB (servers comes from tests/conftest.py)
