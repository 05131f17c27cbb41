"""What every PWM output provides."""

from __future__ import annotations

from typing import Protocol


class OutputError(RuntimeError):
    """The output cannot be opened or driven; the message names the pin or file and what to do."""


class PwmOutput(Protocol):
    """A PWM output driving the load; opened as found where the hardware allows, else at duty 0."""

    description: str
    """What is driven, for logs, e.g. ``sysfs PWM /sys/class/pwm/pwmchip0/pwm0 at 5 Hz``."""

    found_duty: float | None
    """The duty in force when opened: the one a previous process left running, 0 when the backend starts at
    0, None when it cannot be read (it is then left as it is until the first setpoint)."""

    async def set_duty(self, duty: float) -> None:
        """Drive ``duty``: the fraction of each period the output is high, 0-1."""
        ...

    async def close(self) -> None:
        """Set duty 0 and release the hardware; safe to call more than once."""
        ...
