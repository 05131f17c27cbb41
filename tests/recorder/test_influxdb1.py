"""The InfluxDB 1.x writer against a real influxd: authentication, retention policy, what is retried."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.influx import InfluxServer
from zeropower.recorder.writers.base import RejectedWriteError, TransientWriteError
from zeropower.recorder.writers.influxdb1 import InfluxDb1Config, InfluxDb1Writer
from zeropower.sim.broker import free_port

ADMIN = ("zp-admin", "s3cret pass")


@pytest.fixture
def secured_influx(tmp_path: Path) -> Iterator[InfluxServer]:
    """A real influxd with authentication on and database ``zeropower``."""
    if not InfluxServer.available():
        pytest.skip("influxd not installed (scripts/system-deps installs it)")
    with InfluxServer(tmp_path / "influxdb", admin=ADMIN) as server:
        server.create_database("zeropower")
        yield server


def line(value: float) -> bytes:
    """One point of line protocol, timestamped now."""
    return f"grid power_w={value} {time.time_ns()}".encode()


async def test_writes_with_user_and_password_into_the_retention_policy(secured_influx: InfluxServer):
    secured_influx.query('CREATE RETENTION POLICY "week" ON "zeropower" DURATION 7d REPLICATION 1', method="POST")
    config = InfluxDb1Config(
        type="influxdb1",
        url=secured_influx.url + "/",
        retention_policy="week",
        username=ADMIN[0],
        password=ADMIN[1],
    )
    async with InfluxDb1Writer(config) as writer:
        await writer.write(line(-42.5))
    assert [row["power_w"] for row in secured_influx.rows('SELECT power_w FROM "week"."grid"', "zeropower")] == [-42.5]
    assert not secured_influx.rows("SELECT power_w FROM grid", "zeropower")  # not in the default policy


async def test_a_wrong_password_is_kept_for_retry_and_bad_points_are_rejected(secured_influx: InfluxServer):
    wrong = InfluxDb1Config(type="influxdb1", url=secured_influx.url, username=ADMIN[0], password="wrong")
    async with InfluxDb1Writer(wrong) as writer:
        with pytest.raises(TransientWriteError, match="HTTP 401") as error:
            await writer.write(line(1.0))
    assert not error.value.unreachable  # it answered: retries back off
    right = InfluxDb1Config(type="influxdb1", url=secured_influx.url, username=ADMIN[0], password=ADMIN[1])
    async with InfluxDb1Writer(right) as writer:
        with pytest.raises(RejectedWriteError, match="HTTP 400") as rejected:
            await writer.write(b"grid power_w=not-a-number")
    assert "unable to parse" in str(rejected.value)


async def test_an_unreachable_server_is_a_transient_error_without_an_answer():
    config = InfluxDb1Config(type="influxdb1", url=f"http://127.0.0.1:{free_port()}", timeout_s=2)
    async with InfluxDb1Writer(config) as writer:
        with pytest.raises(TransientWriteError, match="ConnectError") as error:
            await writer.write(line(1.0))
    assert error.value.unreachable
