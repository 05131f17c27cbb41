"""Setup in the browser: a service's section stored retained on ``<p>/setup/<section>``.

It is used when the config file and the environment have no such section. The section in YAML or the
environment wins: the service then never reads the setup topic and says so in its status. Without it the
service waits, then runs each new valid setup, stopping the previous one first. A setup that is junk, too
large or invalid never stops the service: it keeps what it runs and says why, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from zeropower.shared.change_log import ChangeLogger
from zeropower.shared.messages import SetupSource, SetupStatus
from zeropower.shared.mqtt import IncomingMessage, MqttBus
from zeropower.shared.service import describe_validation_error
from zeropower.shared.topics import Topics

#: The largest setup payload read (a setup with ten inverters is about 3 KiB).
MAX_SETUP_BYTES = 65536

#: The longest text in a status (an error may quote a hostile payload).
MAX_STATUS_TEXT = 300

ConfigT = TypeVar("ConfigT", bound=BaseModel)
RunWith = Callable[[ConfigT, asyncio.Event], Awaitable[None]]
"""Runs one config until its stop event is set."""


def parse_setup(model: type[ConfigT], section: str, payload: bytes) -> ConfigT:
    """Validate a setup payload with the section's settings model; ValueError names the cause (never a secret)."""
    if len(payload) > MAX_SETUP_BYTES:
        raise ValueError(f"{len(payload)} bytes, more than {MAX_SETUP_BYTES}")
    try:
        data = json.loads(payload)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:  # the payload itself is not shown: it may hold one
        raise ValueError(f"not JSON ({type(error).__name__} at position {getattr(error, 'pos', 0)})") from None
    except RecursionError:  # e.g. 60,000 nested brackets, well within the size limit
        raise ValueError("nested too deeply to be a setup") from None
    if not isinstance(data, dict):
        raise ValueError(f"not a JSON object of the {section} section")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = describe_validation_error(error)
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ValueError(f"{section}.{problems[0]}{more}") from None


class SetupSection(Generic[ConfigT]):
    """One section of one service: from the config file, or from the retained setup topic."""

    def __init__(
        self,
        bus: MqttBus,
        topics: Topics,
        *,
        service_id: str,
        section: str,
        model: type[ConfigT],
        configured: ConfigT | None,
        describe: Callable[[ConfigT], str],
        log: logging.Logger,
    ) -> None:
        self._bus = bus
        self._topic = topics.setup(section)
        self._status_topic = topics.setup_status(service_id)
        self._section = section
        self._model = model
        self._describe = describe
        self._log = log
        self._source: SetupSource = "waiting" if configured is None else "yaml"
        self._running: ConfigT | None = None
        self._pending = configured
        self._error: str | None = None
        self._published: tuple[SetupSource, str | None, str | None] | None = None
        self._changed = asyncio.Event()
        self._problems = ChangeLogger(log, f"setup on {self._topic}")
        if configured is None:
            bus.subscribe(self._topic, self._on_setup)

    async def serve(self, stop: asyncio.Event, run_with: RunWith[ConfigT]) -> None:
        """Run each new config with ``run_with`` until ``stop``; the previous one is stopped before the next starts."""
        if self._source == "waiting":
            self._log.info("%s is not in the config file: waiting for its setup on %s", self._section, self._topic)
        await self._publish_status()
        while not stop.is_set():
            config, self._pending = self._pending, None
            if config is None:
                await self._wait(stop)
                continue
            self._running = config
            await self._publish_status()
            run_stop = asyncio.Event()
            task = asyncio.create_task(run_with(config, run_stop))
            await self._wait(stop, task)
            run_stop.set()
            try:
                await task
            except Exception as error:
                if self._source == "yaml":
                    raise
                self._log.warning("setup of %s failed to run: %s: %s", self._section, type(error).__name__, error)
                self._running, self._error = None, _shortened(f"failed to run: {type(error).__name__}: {error}")
                await self._publish_status()

    async def _wait(self, stop: asyncio.Event, task: asyncio.Task[None] | None = None) -> None:
        """Until stop is set, a new config is pending, or ``task`` ended."""
        self._changed.clear()
        waits = {asyncio.create_task(stop.wait()), asyncio.create_task(self._changed.wait())}
        if task is not None:
            waits.add(task)
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waits - {task}:
                waiter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter

    async def _on_setup(self, message: IncomingMessage) -> None:
        stays = ", the current one stays" if self._running is not None else ""
        if not message.payload:
            self._refuse(f"cleared{stays} until the service restarts" if stays else None)
        else:
            try:
                config = parse_setup(self._model, self._section, message.payload)
            except ValueError as error:
                self._refuse(f"refused{stays}: {error}")
            else:
                self._refuse(None)
                if config != self._running:
                    self._log.info("setup of %s received: %s", self._section, self._describe(config))
                    self._source, self._pending = "setup", config
                    self._changed.set()
        await self._publish_status()

    def _refuse(self, problem: str | None) -> None:
        self._problems.report(problem)
        self._error = None if problem is None else _shortened(problem)

    async def _publish_status(self) -> None:
        """Publish the status (retained) when it changed."""
        running = None if self._running is None else _shortened(self._describe(self._running))
        source: SetupSource = self._source if self._running is not None or self._source == "yaml" else "waiting"
        current = (source, running, self._error)
        if current == self._published:
            return
        self._published = current
        status = SetupStatus(section=self._section, source=source, running=running, error=self._error)
        await self._bus.publish(self._status_topic, status, retain=True)


def _shortened(text: str) -> str:
    return text if len(text) <= MAX_STATUS_TEXT else f"{text[: MAX_STATUS_TEXT - 3]}..."
