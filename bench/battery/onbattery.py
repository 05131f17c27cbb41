"""OpenDTU-OnBattery's dynamic power limiter (DPL) with a battery-powered inverter, as its sources describe it.

hoylabs/OpenDTU-OnBattery at 1bfc0cc (2026-03-31), ``src/PowerLimiter.cpp``, ``src/PowerLimiterBatteryInverter.cpp``,
``src/PowerLimiterInverter.cpp``, ``include/defaults.h``:

- Battery state (``getBatteryState``): at or below the stop threshold STOP; at or above the start threshold
  DISCHARGE_ALLOWED; in between it keeps the direction it came from: from the start threshold discharge allowed,
  from the stop threshold NO_DISCHARGE with solar passthrough (else STOP). "Use battery at night" is off (default),
  so day and night do not matter. Thresholds on the BMS's SoC (``testThreshold``; the voltage thresholds are
  the fallback without a fresh SoC).
- Requested power (``calcTargetOutput``): the governed inverters' output + the meter reading - the target
  consumption, at least 0, at most the total upper limit (``TotalUpperPowerLimit``).
- Power bus usage (``calcPowerBusUsage``): STOP 0; full solar passthrough active and the solar charger's output
  (AC-equivalent, minus conduction losses) above the request: all of it; NO_DISCHARGE: at most the solar
  charger's output; DISCHARGE_ALLOWED: the request (no BMS discharge current limit below 800 W).
- Full solar passthrough (``getFullSolarPassthrough``): from SoC ≥ ``FullSolarPassThroughSoc`` (100 %), with
  passthrough enabled and above the start threshold, until the stop test fails (SoC < 100 %).
- Limits (``updateInverterLimits`` and ``PowerLimiterBatteryInverter``): diff = usage - output; within the
  hysteresis nothing (0 W requested: no hysteresis); a reduction from the current *limit*, down to the lower
  power limit, standby (power off) when more must go than that; an increase from the limit (from 0 in standby),
  not waking up for less than the lower power limit, at most the configured maximum.
- Waiting (``PowerLimiterInverter::update``, ``loop``): after a limit or power command, until the command is
  acknowledged and inverter data newer than it arrive, then a meter reading more than 2 s newer than those.

Settings: the defaults of ``include/defaults.h`` (target 0 W, hysteresis 0 W, lower power limit 10 W, upper 800 W,
start 80 %, full passthrough at 100 %, conduction losses 3 %) except the stop threshold, set to the battery's
10 % reserve like the others' (default 20 %), and solar passthrough on (default off; without it the battery
would take all the sun until 80 %). Simplifications: the solar charger's output is read with the BMS every 2 s;
power-off/on commands take effect after the inverter's dead time and do not queue at the radio; no 30 s
update timeout or restarts (nothing fails here); the calculation backoff (128-1024 ms) is below the 1 s step.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.battery.plant import INVERTER_ID, NAMEPLATE_W, BatteryReading
from bench.controller.plant import Telemetry


@dataclass(frozen=True)
class DplSettings:
    """The DPL's settings (names as in ``Configuration.h``)."""

    target_consumption_w: float = 0.0
    hysteresis_w: float = 0.0
    lower_power_limit_w: float = 10.0
    upper_power_limit_w: float = NAMEPLATE_W
    soc_start_pct: float = 80.0
    soc_stop_pct: float = 10.0
    solar_passthrough: bool = True
    full_passthrough_soc_pct: float = 100.0
    conduction_losses_pct: float = 3.0


#: Hoymiles' lowest limit, as a share of the nameplate (the read-back of a 10 W limit on an HM-800 is 16 W).
FLOOR_SHARE = 0.02
STOP, NO_DISCHARGE, DISCHARGE_ALLOWED = "stop", "no-discharge", "discharge-allowed"


class OnBatteryDpl:
    """The DPL governing one battery-powered HM-800."""

    def __init__(self, settings: DplSettings | None = None) -> None:
        self.settings = settings or DplSettings()
        self.target_w = self.settings.target_consumption_w
        self.state = STOP
        self._from_start = False
        self._full_passthrough = False
        self._soc: float | None = None
        self._solar_w = 0.0
        self._output_w = 0.0
        self._limit_w = 0.0
        self._producing = False
        self._stats_at: float | None = None
        self._pending_limit: float | None = None  # sent, not yet read back
        self._pending_power: bool | None = None  # power state requested, not yet shown
        self._command_at: float | None = None
        self.standby = True

    def on_battery(self, now_s: float, reading: BatteryReading) -> None:
        """The BMS's SoC and the solar charger's output."""
        self._soc = reading.soc_pct
        self._solar_w = reading.solar_w or 0.0

    def on_telemetry(self, now_s: float, states: list[Telemetry]) -> None:
        """The inverter's data (every 5 s)."""
        for state in states:
            if state.device_id != INVERTER_ID:
                continue
            self._output_w, self._limit_w = state.power_w, state.limit_w
            self._producing = state.reachable and state.power_w > 0
            self._stats_at = now_s
            floor = FLOOR_SHARE * NAMEPLATE_W  # the inverter clamps a limit to 2 % of its nameplate
            if self._pending_limit is not None and abs(state.limit_w - max(self._pending_limit, floor)) < 1:
                self._pending_limit = None
            if self._pending_power is not None and self._pending_power == self._producing:
                self._pending_power = None

    def _busy(self) -> bool:
        """A command not yet confirmed by data newer than it (``PowerLimiterInverter::update``)."""
        if self._pending_limit is not None or self._pending_power is not None:
            return True
        return self._command_at is not None and (self._stats_at is None or self._stats_at <= self._command_at)

    def _battery_state(self) -> str:
        s = self.settings
        soc = self._soc
        if soc is None or soc <= s.soc_stop_pct:
            self._from_start = False
            return STOP
        if soc >= s.soc_start_pct:
            self._from_start = True
            return DISCHARGE_ALLOWED
        if self._from_start:
            return DISCHARGE_ALLOWED
        return NO_DISCHARGE if s.solar_passthrough else STOP

    def _full_solar_passthrough(self) -> bool:
        s = self.settings
        if not s.solar_passthrough or self._soc is None or self._soc < s.soc_start_pct:
            return False
        # the stop test (SoC < threshold) holds whenever the start test does not: no state to keep
        return self._soc >= s.full_passthrough_soc_pct

    def on_meter(self, now_s: float, grid_w: float) -> dict[str, float]:
        """One DPL loop: returns {inverter: limit} (0: standby) when it sends a command."""
        if self._stats_at is None or self._busy():
            return {}
        if now_s <= self._stats_at + 2:  # a meter reading more than 2 s newer than the inverter data
            return {}
        s = self.settings
        self.state = self._battery_state()
        self._full_passthrough = self._full_solar_passthrough()
        output = self._output_w if self._producing else 0.0
        requested = min(max(0.0, output + round(grid_w) - s.target_consumption_w), s.upper_power_limit_w)
        solar_ac = (1 - s.conduction_losses_pct / 100) * self._solar_w  # already AC-equivalent (0.95 in the source)
        if self.state == STOP:
            usage = 0.0
        elif self._full_passthrough and solar_ac > requested:
            usage = solar_ac
        elif self.state == NO_DISCHARGE:
            usage = min(requested, solar_ac)
        else:
            usage = requested
        return self._update_limit(round(usage), now_s)

    def _update_limit(self, usage: float, now_s: float) -> dict[str, float]:  # noqa: PLR0911  (as the source's cases)
        s = self.settings
        output = self._output_w if self._producing else 0.0
        diff = usage - output
        hysteresis = 0.0 if usage == 0 else s.hysteresis_w
        if abs(diff) < hysteresis or diff == 0:
            return {}
        lower = s.lower_power_limit_w
        if diff < 0:
            reduction = -diff
            if not self._producing:
                return {}
            max_reduction = max(0.0, output - lower)
            allow_standby = max_reduction < reduction
            low = min(self._limit_w, output)
            if low <= lower or self._limit_w - lower < reduction:
                return self._send(now_s, 0.0 if allow_standby else lower)
            return self._send(now_s, self._limit_w - reduction)
        increase = diff
        if not self._producing and lower > increase:
            return {}
        baseline = self._limit_w if self._producing else 0.0
        room = s.upper_power_limit_w if not self._producing else max(0.0, s.upper_power_limit_w - self._limit_w)
        if room <= 0:
            return {}
        return self._send(now_s, baseline + min(increase, room))

    def _send(self, now_s: float, limit_w: float) -> dict[str, float]:
        limit = round(min(max(limit_w, 0.0), self.settings.upper_power_limit_w))
        if limit == 0:
            if self.standby:
                return {}
            self.standby = True
            self._pending_power = False
        else:
            limit = max(limit, round(self.settings.lower_power_limit_w))
            self._pending_limit = limit
            if self.standby:
                self.standby = False
                self._pending_power = True
        self._command_at = now_s
        return {INVERTER_ID: float(limit)}
