"""What every PWM output provides."""

from __future__ import annotations

from typing import Protocol


class OutputError(RuntimeError):
    """The output cannot be opened or driven; the message names the pin or file and what to do."""


class PwmOutput(Protocol):
    """A PWM output driving the load; it starts at duty 0."""

    description: str
    """What is driven, for logs, e.g. ``sysfs PWM /sys/class/pwm/pwmchip0/pwm0 at 5 Hz``."""

    async def set_duty(self, duty: float) -> None:
        """Drive ``duty``: the fraction of each period the output is high, 0-1."""
        ...

    async def close(self) -> None:
        """Set duty 0 and release the hardware; safe to call more than once."""
        ...
