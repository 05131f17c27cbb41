"""An inverter's telemetry gathered from the DTU's many topics into one normalised DeviceState."""

from __future__ import annotations

from dataclasses import dataclass, field

from zeropower.actuator_opendtu.drivers import TelemetryUpdate
from zeropower.shared.messages import MAX_ENERGY_WH, MAX_POWER_W, MAX_TIMESTAMP, DeviceState


@dataclass
class InverterTelemetry:
    """The newest value of each telemetry field of one inverter, and the last limit sent to it.

    All times are wall-clock Unix times, shown to people (``updated_at``, ``last_command_at``); nothing here
    measures an age, so nothing here needs the monotonic clock.
    """

    nameplate_w: float | None
    reachable: bool | None = None
    producing: bool | None = None
    power_w: float | None = None
    dc_power_w: float | None = None
    dc_channels_w: dict[int, float] = field(default_factory=dict)
    limit_w: float | None = None
    limit_percent: float | None = None
    energy_wh: float | None = None
    updated_at: float | None = None
    received_at: float | None = None
    last_command_w: float | None = None
    last_command_at: float | None = None

    @property
    def seen(self) -> bool:
        """True once any telemetry arrived (before that, nothing is published about the inverter)."""
        return self.received_at is not None

    def apply(self, update: TelemetryUpdate, received_at: float) -> bool:
        """Take in one message's values, received at Unix time ``received_at``; True when it just became reachable."""
        was_reachable = self.reachable
        for name in (
            "reachable",
            "producing",
            "power_w",
            "dc_power_w",
            "limit_w",
            "limit_percent",
            "energy_wh",
            "updated_at",
        ):
            value = getattr(update, name)
            if value is not None:
                setattr(self, name, value)
        if update.dc_channel_w is not None:
            channel, power_w = update.dc_channel_w
            self.dc_channels_w[channel] = power_w
        self.received_at = received_at
        return self.reachable is True and was_reachable is not True

    def record_command(self, limit_w: float, sent_at: float) -> None:
        """Remember the limit just sent, at Unix time ``sent_at``."""
        self.last_command_w = limit_w
        self.last_command_at = sent_at

    def state(self, actuator_id: str, device_id: str, commands_left: float | None = None) -> DeviceState:
        """The normalised state to publish, with the tokens its command budget holds; never raises.

        A value DeviceState would refuse is left out (None): the drivers bound what they read, but a sum or a
        product of those values can still go beyond.
        """
        updated_at = _time(self.updated_at)
        return DeviceState(
            actuator_id=actuator_id,
            device_id=device_id,
            reachable=self.reachable is True,
            producing=self.producing is True,
            power_w=_power(self.power_w),
            dc_power_w=_power(self._dc_power_w()),
            limit_w=_power(self._limit_w()),
            energy_wh=_within(self.energy_wh, 0, MAX_ENERGY_WH),
            updated_at=updated_at if updated_at is not None else _time(self.received_at),
            last_command_w=_power(self.last_command_w),
            last_command_at=_time(self.last_command_at),
            commands_left=commands_left,
        )

    def _limit_w(self) -> float | None:
        """The limit in force: relative x nameplate when the nameplate is known, else the DTU's absolute value.

        OpenDTU computes its absolute read-back from a maximum power it reads from the inverter some time
        after boot, so it can be wrong for minutes; the relative read-back is reliable.
        """
        if self.limit_percent is not None and self.nameplate_w is not None:
            return round(self.limit_percent * self.nameplate_w / 100, 1)
        return self.limit_w

    def _dc_power_w(self) -> float | None:
        """Total DC input: the DTU's total, else the sum of the DC inputs."""
        if self.dc_power_w is not None:
            return self.dc_power_w
        return round(sum(self.dc_channels_w.values()), 1) if self.dc_channels_w else None


def _power(value: float | None) -> float | None:
    """A power DeviceState accepts (finite, within ±MAX_POWER_W), else None."""
    return _within(value, -MAX_POWER_W, MAX_POWER_W)


def _time(value: float | None) -> float | None:
    """A Unix time DeviceState accepts (0 to MAX_TIMESTAMP), else None."""
    return _within(value, 0, MAX_TIMESTAMP)


def _within(value: float | None, low: float, high: float) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if low <= number <= high else None
