"""The diverted-energy counter: estimated power integrated over time, kept in a small JSON file."""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path

log = logging.getLogger("zeropower.actuator_pwm")


class EnergyFileError(RuntimeError):
    """The energy file exists but cannot be read; the message names it."""


class EnergyCounter:
    """Energy in Wh: each power value counts until the next one (exact for a duty held between updates)."""

    def __init__(self, path: Path, energy_wh: float = 0.0) -> None:
        self.path = path
        self._energy_wh = energy_wh
        self._power_w = 0.0
        self._since: float | None = None

    @classmethod
    def load(cls, path: Path) -> EnergyCounter:
        """The counter saved in ``path``; 0 when there is none, or (with a warning) when it is corrupt."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            log.info("energy counter %s does not exist yet: starting from 0 Wh", path)
            return cls(path)
        except OSError as error:
            raise EnergyFileError(f"cannot read the energy counter {path}: {error.strerror or error}") from None
        try:
            energy_wh = json.loads(data)["energy_wh"]
            if isinstance(energy_wh, bool) or not isinstance(energy_wh, int | float):
                raise TypeError("energy_wh is not a number")
            if not math.isfinite(energy_wh) or energy_wh < 0:
                raise ValueError(f"energy_wh is {energy_wh}")
        except (ValueError, TypeError, KeyError) as error:
            kept = path.with_name(f"{path.name}.corrupt")
            try:
                os.replace(path, kept)
            except OSError as rename_error:
                raise EnergyFileError(
                    f"the energy counter {path} is corrupt ({error}) and cannot be moved aside: {rename_error}"
                ) from None
            log.warning("energy counter %s is corrupt (%r): kept as %s, starting from 0 Wh", path, error, kept)
            return cls(path)
        return cls(path, float(energy_wh))

    @property
    def energy_wh(self) -> float:
        """The energy counted so far, in Wh."""
        return self._energy_wh

    def update(self, now: float, power_w: float) -> None:
        """Count the previous power up to ``now`` (a monotonic time in s), then hold ``power_w`` from now on."""
        if self._since is not None and now > self._since:
            self._energy_wh += self._power_w * (now - self._since) / 3600
        self._since = now
        self._power_w = power_w

    def save(self) -> None:
        """Write the counter atomically (temporary file, then rename); OSError when that fails."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        with temporary.open("w", encoding="utf-8") as file:
            json.dump({"energy_wh": round(self._energy_wh, 4), "saved_at": time.time()}, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)
