"""Fixtures of the deployment tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.deploy.broker import SecuredBroker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[SecuredBroker]:
    """A Mosquitto configured like the compose one: login, per-service users and the ACL."""
    running = SecuredBroker(tmp_path)
    running.prepare()
    running.start()
    try:
        yield running
    finally:
        running.stop()
