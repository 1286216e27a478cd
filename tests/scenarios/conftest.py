"""Every whole-session test has the fork server (tests/conftest.py) start its processes."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _fork_server_for_sessions(fork_server: None) -> None:
    """Requested for its effect: the fork server runs while the whole-session tests do."""
