"""What every battery driver provides, and the state it reads back.

Sign convention everywhere: power in W at the battery's AC (or, for a DC-coupled battery inverter, its output)
terminals, positive = charging (drawn from the house), negative = discharging (fed to the house).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class BatteryReading:
    """One read of a battery's own state; None: the device does not report it.

    ``measured_at`` is the monotonic time (s) the driver received the values, for their age; a driver that gathers
    them from several sources gives the oldest arrival among those that matter. ``voltage_v`` is the battery's
    (its BMS's) voltage, ``solar_w`` the DC solar power fed into the battery side (a charge controller's output).
    """

    measured_at: float
    soc_pct: float | None
    power_w: float | None
    setpoint_w: float | None = None
    voltage_v: float | None = None
    energy_charged_wh: float | None = None
    energy_discharged_wh: float | None = None
    solar_w: float | None = None


@dataclass(frozen=True)
class FitCheck:
    """What a battery's settings ask of its driver; each driver config's ``check_fit`` refuses what it cannot do."""

    max_charge_w: float
    max_discharge_w: float
    min_voltage_v: float | None
    discharge_timeout_s: float  # the service's: no setpoint this long ends a discharge
    charge_timeout_s: float  # ... and a charge


#: Highest battery voltage a reading or setting may carry, in V: a BMS reporting more is garbage (home batteries
#: run at 12-60 V, high-voltage stacks at up to a few hundred; OnBattery refuses above 65 V, a Hoymiles takes ~60 V DC).
MAX_VOLTAGE_V = 1000.0


class BatteryDriver(Protocol):
    """One battery reached over its local protocol.

    Drivers raise ``BatteryError`` (with the cause in words) for anything the device did not do or say as
    documented: unreachable, timeout, a refused write, garbage, a value out of its documented range.
    """

    #: Seconds the device wants between two power writes (the vendor's pacing; 0: none).
    min_write_interval_s: float
    #: Lowest discharge the device delivers while it runs, in W; 0: its 0 W is a true 0. A device with such a floor
    #: (a Hoymiles at its lowest limit) is switched off only for a stop state (``set_power(0, standby=True)``).
    min_discharge_w: float

    async def read(self) -> BatteryReading:
        """The battery's state now."""
        ...

    def holds_for_s(self, power_w: float) -> float | None:
        """How long the device keeps ``power_w`` after a write before dropping it by itself, in s (None: for ever).

        A watchdog on the device (Marstek's Passive countdown); the service re-sends well within it.
        """
        ...

    async def set_power(self, power_w: float, *, standby: bool = False) -> None:
        """Charge (positive) or discharge (negative) at ``power_w`` W until told otherwise; 0 = idle.

        ``standby`` (with 0 W): a stop state, the device must deliver nothing at all; a device with a floor
        (``min_discharge_w``) is switched off for it, others take it as 0 W. The driver clamps nothing: the service
        passes a setpoint within the device's limits.
        """
        ...

    async def release(self) -> None:
        """Hand the battery back to its own control (its app's or firmware's mode) as far as the protocol allows."""
        ...

    async def close(self) -> None:
        """Close connections."""
        ...


class BatteryError(Exception):
    """The device did not do or say what its protocol documents; the message names the cause."""
