"""The controller's own persistent state: the on/off switch and the tunables changed at run time.

Kept in a small JSON file written atomically on every change, so a switch or a tuning survives a restart
of the controller and a crash of the broker right after it was sent, whatever sent it (API, web UI, Home
Assistant, MQTT). The broker keeps no command: commands are not retained.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zeropower.controller.settings import ControllerTunablesUpdate
from zeropower.shared.messages import InvalidMessageError, parse_message

log = logging.getLogger("zeropower.controller")


@dataclass
class StoredState:
    """What was changed at run time: the switch (None: never switched) and the tunables given."""

    enabled: bool | None = None
    tunables: dict[str, Any] = field(default_factory=dict)


class StateFile:
    """Loads and saves the StoredState in one JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> StoredState:
        """The saved state; an empty one when there is none or (with a warning, kept aside) when it is corrupt."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return StoredState()
        except OSError as error:
            log.warning("cannot read the state file %s (%s): starting from the configuration", self.path, error)
            return StoredState()
        try:
            return _parse(data)
        except ValueError as error:
            kept = self.path.with_name(f"{self.path.name}.corrupt")
            try:
                os.replace(self.path, kept)
            except OSError:
                kept = self.path
            log.warning(
                "the state file %s is corrupt (%s): kept as %s, starting from the configuration", self.path, error, kept
            )
            return StoredState()

    def save(self, state: StoredState) -> None:
        """Write the state atomically (temporary file, fsync, rename); OSError when that fails."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        document = {"enabled": state.enabled, "tunables": state.tunables, "saved_at": time.time()}
        with temporary.open("w", encoding="utf-8") as file:
            json.dump(document, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)


def _parse(data: bytes) -> StoredState:
    """The state in a file's bytes; ValueError naming what is wrong."""
    document = json.loads(data)
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    enabled = document.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise ValueError(f"enabled is {enabled!r}, not true, false or null")
    tunables = document.get("tunables", {})
    try:
        update = parse_message(ControllerTunablesUpdate, json.dumps(tunables))
    except InvalidMessageError as error:
        raise ValueError(str(error)) from None
    return StoredState(enabled=enabled, tunables=update.changes())
