"""Test helpers: an MQTT probe that records messages, and waiting for conditions without sleeps."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType

import aiomqtt

from zeropower.shared.mqtt import NO_DELAY, IncomingMessage
from zeropower.shared.settings import SettingsT

REPO = Path(__file__).resolve().parent.parent


class MqttProbe:
    """Subscribes to everything and records it; lets tests publish and wait for messages."""

    def __init__(self, port: int) -> None:
        self._client = aiomqtt.Client(
            "127.0.0.1", port, identifier=f"probe-{os.getpid()}-{id(self)}", socket_options=NO_DELAY
        )
        self.messages: list[IncomingMessage] = []
        self.arrivals: list[float] = []  # time.monotonic() when each message arrived
        self._new = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> MqttProbe:
        await self._client.__aenter__()
        await self._client.subscribe("#", qos=1)
        self._task = asyncio.create_task(self._collect())
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(aiomqtt.MqttError):
            await self._client.__aexit__(exc_type, exc, tb)

    async def _collect(self) -> None:
        async for message in self._client.messages:
            payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
            async with self._new:
                self.messages.append(IncomingMessage(str(message.topic), payload, bool(message.retain)))
                self.arrivals.append(time.monotonic())
                self._new.notify_all()

    async def publish(self, topic: str, payload: str | bytes, *, retain: bool = False, qos: int = 1) -> None:
        """Publish a message."""
        await self._client.publish(topic, payload, qos=qos, retain=retain)

    def on(self, topic: str) -> list[IncomingMessage]:
        """Every message received on exactly this topic."""
        return [m for m in self.messages if m.topic == topic]

    def mark(self) -> int:
        """A position in the message log, for ``wait_for(..., since=mark)``."""
        return len(self.messages)

    async def wait_for(
        self,
        topic: str,
        predicate: Callable[[IncomingMessage], bool] = lambda _: True,
        timeout: float = 10.0,
        since: int = 0,
    ) -> IncomingMessage:
        """Wait for a message on ``topic`` (received after position ``since``) that satisfies ``predicate``."""
        async with self._new:
            seen = since
            async with asyncio.timeout(timeout):
                while True:
                    for message in self.messages[seen:]:
                        if message.topic == topic and predicate(message):
                            return message
                    seen = len(self.messages)
                    await self._new.wait()

    async def wait_for_new(
        self, topic: str, predicate: Callable[[IncomingMessage], bool] = lambda _: True, timeout: float = 10.0
    ) -> IncomingMessage:
        """Like wait_for, but only messages that arrive from now on."""
        return await self.wait_for(topic, predicate, timeout, since=self.mark())


def free_udp_port() -> int:
    """A UDP port on 127.0.0.1 that nothing is bound to right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> None:
    """Poll a cheap in-memory condition until it holds (for state that has no event to wait on)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def service_running(
    run: Callable[[SettingsT, asyncio.Event], Awaitable[None]], settings: SettingsT
) -> AsyncIterator[None]:
    """Run a service's ``run(settings, stop)`` in this process until the block ends, then stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(run(settings, stop))
    try:
        yield
    finally:
        stop.set()
        # A stop takes < 3 s by design (retained publishes bounded to 2 s, the disconnect to 0.5 s); 10 s leaves
        # room for a loaded 2-core CI machine (a 5 s bound failed once in ~1,600 in-process stops).
        await asyncio.wait_for(task, 10)


def start_service(
    module: str, env: dict[str, str], log_path: Path, python: str = sys.executable
) -> subprocess.Popen[bytes]:
    """Start ``python -m zeropower.<module>`` as a real process with the given environment overrides."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ZEROPOWER_")}
    full_env.update(env)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [python, "-m", f"zeropower.{module}"],
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=log_path.parent,
        )


@contextlib.contextmanager
def service_process(module: str, env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``start_service`` for the block; the process is killed at the end if the block left it running."""
    process = start_service(module, env, log_path)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def exit_status(process: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    """Wait for ``process`` to exit by itself; kill it and raise when it does not within ``timeout``."""
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


async def terminate_timed(process: subprocess.Popen[bytes], timeout: float = 5.0) -> tuple[int, float]:
    """SIGTERM ``process``; its exit status and how many seconds it took (killed after ``timeout``)."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    try:
        returncode = await asyncio.to_thread(process.wait, timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return returncode, time.monotonic() - started


def stop_services(processes: Iterable[subprocess.Popen[bytes]], timeout: float = 5.0) -> None:
    """SIGTERM every process still running, then wait for each; one that does not stop in time is killed."""
    running = list(processes)
    for process in running:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in running:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
