"""The MQTT bus with login and TLS, against a real Mosquitto that requires both."""

import asyncio
import logging
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from zeropower.shared.mqtt import MqttBus
from zeropower.shared.settings import MqttSettings
from zeropower.sim.broker import free_port, wait_for_port


def openssl(*arguments: str, cwd: Path) -> None:
    subprocess.run(["openssl", *arguments], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def secure_broker(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """Mosquitto with a TLS listener (certificate for 127.0.0.1 by a test CA) and a password file."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
            "-keyout", "ca.key", "-out", "ca.crt", cwd=tmp_path)  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server.key", "-out", "server.csr", cwd=tmp_path)  # fmt: skip
    (tmp_path / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "1", "-extfile", "san.ext", "-out", "server.crt", cwd=tmp_path)  # fmt: skip
    passwords = tmp_path / "passwords"
    passwords.touch()
    mosquitto_passwd = shutil.which("mosquitto_passwd") or "mosquitto_passwd"
    subprocess.run([mosquitto_passwd, "-b", str(passwords), "zeropower", "s3cret"], check=True, capture_output=True)
    port = free_port()
    config = tmp_path / "mosquitto.conf"
    config.write_text(
        # user root: started as root, Mosquitto would drop to its own user, who cannot read pytest's tmp_path
        f"user root\nlistener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwords}\n"
        f"cafile {tmp_path / 'ca.crt'}\ncertfile {tmp_path / 'server.crt'}\nkeyfile {tmp_path / 'server.key'}\n"
    )
    broker = subprocess.Popen(["mosquitto", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield port, tmp_path / "ca.crt"
    finally:
        broker.terminate()
        broker.wait(timeout=5)


def tls_settings(port: int, ca_file: Path, password: str) -> MqttSettings:
    return MqttSettings(
        port=port,
        tls=True,
        ca_file=ca_file,
        username="zeropower",
        password=SecretStr(password),
        reconnect_min_s=0.1,
        reconnect_max_s=0.2,
    )


async def test_connects_with_tls_and_login(secure_broker):
    port, ca_file = secure_broker
    bus = MqttBus(tls_settings(port, ca_file, "s3cret"), "tls-test", "t/tls/availability")
    stop = asyncio.Event()
    task = asyncio.create_task(bus.run(stop))
    await asyncio.wait_for(bus.connected.wait(), 10)
    assert await bus.publish("t/tls/hello", "world")
    stop.set()
    await asyncio.wait_for(task, 3)


async def test_wrong_password_is_reported_and_retried_not_fatal(secure_broker, caplog):
    port, ca_file = secure_broker
    bus = MqttBus(tls_settings(port, ca_file, "wrong"), "tls-test", "t/tls/availability")
    stop = asyncio.Event()
    with caplog.at_level(logging.WARNING, logger="zeropower.shared.mqtt"):
        task = asyncio.create_task(bus.run(stop))
        await asyncio.sleep(1.0)  # several attempts at the 0.1-0.2 s backoff
        assert not task.done()
        assert not bus.connected.is_set()
        stop.set()
        await asyncio.wait_for(task, 3)
    warnings = [r.getMessage() for r in caplog.records if "MQTT broker" in r.getMessage()]
    assert len(warnings) == 1, warnings  # logged once, not at every attempt
    assert "authori" in warnings[0].lower()
