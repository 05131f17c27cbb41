"""Software PWM on a BCM pin through the RPi.GPIO API (on a Pi 5: ``pip install rpi-lgpio``, same API)."""

from __future__ import annotations

import importlib
from typing import Literal, Protocol, Self

from pydantic import Field, model_validator

from zeropower.actuator_pwm.outputs.base import OutputError
from zeropower.shared.settings import StrictModel

#: Highest BCM GPIO number on the 40-pin header.
_HIGHEST_PIN = 27


class GpioPwm(Protocol):
    """A PWM object of the RPi.GPIO API."""

    def start(self, duty_cycle: float) -> None:
        """Start with a duty cycle in percent."""
        ...

    def ChangeDutyCycle(self, duty_cycle: float) -> None:  # noqa: N802 - the RPi.GPIO name
        """Change the duty cycle, in percent."""
        ...

    def stop(self) -> None:
        """Stop the PWM; the pin stays an output."""
        ...


class GpioModule(Protocol):
    """The part of the RPi.GPIO API used here (RPi.GPIO itself, or rpi-lgpio on a Pi 5)."""

    BCM: int
    OUT: int
    HIGH: int
    LOW: int

    def setmode(self, mode: int) -> None:
        """Choose the pin numbering."""
        ...

    def setup(self, channel: int, direction: int, *, initial: int) -> None:
        """Make ``channel`` an output at level ``initial``."""
        ...

    def output(self, channel: int, value: int) -> None:
        """Drive an output pin high or low."""
        ...

    def PWM(self, channel: int, frequency: float) -> GpioPwm:  # noqa: N802 - the RPi.GPIO name
        """A software PWM on ``channel`` at ``frequency`` Hz."""
        ...

    def cleanup(self, channel: list[int]) -> None:
        """Return the given pins to inputs."""
        ...


class RpiGpioConfig(StrictModel):
    """Software PWM through RPi.GPIO; on a Raspberry Pi 5 install ``rpi-lgpio``, which provides the same API."""

    type: Literal["rpi_gpio"] = Field(
        "rpi_gpio",
        description="Software PWM through the RPi.GPIO API (Pi 5: pip install rpi-lgpio, it provides RPi.GPIO).",
    )
    pin: int = Field(ge=0, le=_HIGHEST_PIN, description="BCM number of the PWM output pin (e.g. 12).")
    frequency_hz: float = Field(
        5.0,
        gt=0,
        le=10_000,
        description="PWM frequency in Hz: ~5 for a solid-state relay (below the meter's averaging window), "
        "~1000 for a phase-fired controller that reads the duty.",
    )
    status_pin: int | None = Field(
        None,
        ge=0,
        le=_HIGHEST_PIN,
        description="BCM number of a status output (e.g. 17), high while the duty is above 0; unset: none.",
    )

    @model_validator(mode="after")
    def _distinct_pins(self) -> Self:
        if self.status_pin == self.pin:
            raise ValueError(f"status_pin must differ from pin (both {self.pin})")
        return self


def import_gpio() -> GpioModule:
    """Import RPi.GPIO now (not at module import, so the service installs anywhere)."""
    hint = "on a Raspberry Pi 5 RPi.GPIO does not work: pip install rpi-lgpio (same API)"
    try:
        gpio: GpioModule = importlib.import_module("RPi.GPIO")
    except ImportError as error:
        raise OutputError(f"RPi.GPIO is not installed ({error}): pip install RPi.GPIO; {hint}") from None
    except RuntimeError as error:
        raise OutputError(f"RPi.GPIO cannot run here: {error}; {hint}") from None
    return gpio


class RpiGpioOutput:
    """Drives the PWM pin, and the status pin (if any) high while the duty is above 0."""

    found_duty = 0.0  # software PWM dies with its process: a new one starts at 0

    def __init__(self, config: RpiGpioConfig, gpio: GpioModule | None = None) -> None:
        self.description = f"RPi.GPIO software PWM on GPIO{config.pin} at {config.frequency_hz:g} Hz"
        self._gpio = gpio if gpio is not None else import_gpio()
        self._pin = config.pin
        self._status_pin = config.status_pin
        self._closed = False
        try:
            self._gpio.setmode(self._gpio.BCM)
            self._gpio.setup(self._pin, self._gpio.OUT, initial=self._gpio.LOW)
            if self._status_pin is not None:
                self._gpio.setup(self._status_pin, self._gpio.OUT, initial=self._gpio.LOW)
            self._pwm = self._gpio.PWM(self._pin, config.frequency_hz)
            self._pwm.start(0)
        except RuntimeError as error:
            raise OutputError(f"cannot set up GPIO{config.pin} as PWM output: {error}") from None

    @property
    def _pins(self) -> list[int]:
        return [self._pin] if self._status_pin is None else [self._pin, self._status_pin]

    async def set_duty(self, duty: float) -> None:
        """Set the duty cycle (RPi.GPIO takes percent) and the status pin."""
        self._pwm.ChangeDutyCycle(round(duty * 100, 3))
        if self._status_pin is not None:
            self._gpio.output(self._status_pin, self._gpio.HIGH if duty > 0 else self._gpio.LOW)

    async def close(self) -> None:
        """Duty 0, status pin low, PWM stopped, pins released."""
        if self._closed:
            return
        self._closed = True
        try:
            await self.set_duty(0.0)
            self._pwm.stop()
        finally:
            self._gpio.cleanup(self._pins)
