"""Fixtures of the deployment tests."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.broker import SecuredBroker


@contextlib.contextmanager
def secured_broker(workdir: Path, extra_config: tuple[str, ...] = (), **options: Any) -> Iterator[SecuredBroker]:
    """A Mosquitto configured like the compose one (login, per-connection users, the ACL) while the block runs;
    ``options``: SecuredBroker's."""
    running = SecuredBroker(workdir, extra_config, **options)
    running.prepare()
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[SecuredBroker]:
    """A Mosquitto configured like the compose one: login, per-connection users and the ACL."""
    with secured_broker(tmp_path) as running:
        yield running
