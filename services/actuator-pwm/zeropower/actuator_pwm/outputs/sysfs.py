"""Hardware PWM through the kernel's sysfs interface (``/sys/class/pwm/pwmchipN/pwmM``, times in ns).

On a Raspberry Pi, enable it with ``dtoverlay=pwm-2chan`` in config.txt; chip numbers differ between models.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Literal

from pydantic import Field

from zeropower.actuator_pwm.outputs.base import OutputError
from zeropower.shared.settings import StrictModel

_NS_PER_S = 1_000_000_000
#: How often to look for the channel's files after exporting it (udev sets their permissions a bit later).
_EXPORT_POLL_S = 0.02


class SysfsConfig(StrictModel):
    """A kernel PWM channel: ``<root>/pwmchip<chip>/pwm<channel>``."""

    type: Literal["sysfs"] = Field("sysfs", description="Hardware PWM through /sys/class/pwm (dtoverlay=pwm-2chan).")
    chip: int = Field(0, ge=0, description="The PWM chip number N of pwmchipN (differs between Pi models).")
    channel: int = Field(0, ge=0, description="The channel M of pwmM on that chip (GPIO12 is channel 0 on a Pi 4).")
    frequency_hz: float = Field(
        5.0,
        gt=0,
        le=1_000_000,
        description="PWM frequency in Hz: ~5 for a solid-state relay (below the meter's averaging window), "
        "~1000 for a phase-fired controller that reads the duty.",
    )
    root: Path = Field(Path("/sys/class/pwm"), description="The sysfs PWM directory (another one only for tests).")
    export_timeout_s: float = Field(
        2.0, gt=0, description="Longest wait for the channel's files after exporting it, in s."
    )


def write_attribute(path: Path, value: int) -> None:
    """Write one sysfs attribute; OutputError naming the file when that fails."""
    try:
        path.write_text(f"{value}\n", encoding="ascii")
    except PermissionError:
        raise OutputError(
            f"cannot write {path}: permission denied (run as a user in the gpio group with a udev rule "
            "for /sys/class/pwm, or as root)"
        ) from None
    except OSError as error:
        raise OutputError(f"cannot write {value} to {path}: {error.strerror or error}") from None


def read_attribute(path: Path) -> int:
    """Read one numeric sysfs attribute; OutputError naming the file when that fails."""
    try:
        return int(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError) as error:
        raise OutputError(f"cannot read {path}: {error}") from None


class SysfsOutput:
    """One exported, enabled PWM channel; the duty cycle never exceeds the period, not even briefly."""

    def __init__(self, directory: Path, period_ns: int) -> None:
        self.description = f"sysfs PWM {directory} at {_NS_PER_S / period_ns:g} Hz"
        self._directory = directory
        self._period_ns = period_ns
        self._closed = False
        self.found_duty: float | None = 0.0

    @classmethod
    async def open(cls, config: SysfsConfig) -> SysfsOutput:
        """Export the channel if needed; keep a running channel's duty (a restart changes nothing), else start at 0."""
        chip = config.root / f"pwmchip{config.chip}"
        if not chip.is_dir():
            raise OutputError(
                f"no PWM chip at {chip}: enable hardware PWM (dtoverlay=pwm-2chan on a Raspberry Pi) "
                "and check the chip number"
            )
        channels = read_attribute(chip / "npwm")
        if config.channel >= channels:
            raise OutputError(f"{chip} has {channels} channel(s), so channel {config.channel} does not exist")
        directory = chip / f"pwm{config.channel}"
        output = cls(directory, max(1, round(_NS_PER_S / config.frequency_hz)))
        if not directory.is_dir():
            write_attribute(chip / "export", config.channel)
            await _wait_for(directory / "period", config.export_timeout_s)
        elif output._running():
            output.found_duty = min(read_attribute(directory / "duty_cycle") / output._period_ns, 1.0)
            return output
        output._start()
        return output

    def _running(self) -> bool:
        """The channel is enabled at our period: a previous process left it driving the load."""
        return (
            read_attribute(self._directory / "enable") == 1
            and read_attribute(self._directory / "period") == self._period_ns
        )

    def _start(self) -> None:
        self._write("duty_cycle", 0)  # first: a period shorter than the old duty cycle would be refused
        self._write("period", self._period_ns)
        self._write("enable", 1)

    def _write(self, name: str, value: int) -> None:
        write_attribute(self._directory / name, value)

    async def set_duty(self, duty: float) -> None:
        """Write the duty cycle in ns (duty x period)."""
        self._write("duty_cycle", min(round(duty * self._period_ns), self._period_ns))

    async def close(self) -> None:
        """Duty 0, then disable; the channel stays exported so a restart need not wait for udev."""
        if self._closed:
            return
        self._closed = True
        self._write("duty_cycle", 0)
        self._write("enable", 0)


async def _wait_for(path: Path, timeout_s: float) -> None:
    """Wait until the kernel created ``path`` after an export."""
    deadline = time.monotonic() + timeout_s
    while not await asyncio.to_thread(path.exists):
        if time.monotonic() > deadline:
            raise OutputError(f"{path} did not appear within {timeout_s:g} s of exporting the channel")
        await asyncio.sleep(_EXPORT_POLL_S)
