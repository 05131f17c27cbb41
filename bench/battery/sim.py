"""Closes each controller over its plant for a whole day at 1 s; the oracle is computed, not simulated."""

from __future__ import annotations

from dataclasses import dataclass

from bench.battery.metrics import BatteryMetrics, BatteryRun, measure
from bench.battery.onbattery import OnBatteryDpl
from bench.battery.oracle import oracle_run
from bench.battery.plant import BALCONY, BATTERY_ID, BATTERY_POLL_S, NAMEPLATE_W, AcPlant, BatterySpec, DcPlant
from bench.battery.zeropower import ZeropowerBattery
from bench.controller.plant import PRESETS, TELEMETRY_EVERY_S
from bench.controller.protocol import Setup
from bench.controller.scenario import Scenario

#: The controllers: zeropower with the battery, the same at a grid target of 0 W instead of the product's 20 W,
#: zeropower without the battery (left idle: what the battery adds), OpenDTU-OnBattery's DPL on its own
#: (DC-coupled) plant, and the oracle on each plant (``oracle-dc``: sun and battery through the one HM-800).
CONTROLLERS = ("zeropower", "zeropower-target-0", "zeropower-no-battery", "oracle", "onbattery", "oracle-dc")


def has_preset(name: str) -> bool:
    """Whether the inverter preset matters to the controller (the oracles' actuators are perfect)."""
    return not name.startswith("oracle")


@dataclass(frozen=True)
class BatteryResult:
    """One controller on one scenario."""

    controller: str
    scenario: str
    seed: int
    preset: str | None  # None: an oracle, which has no plant dynamics
    metrics: BatteryMetrics
    commands: int  # inverter limit (and power) commands
    battery_writes: int


def simulate(
    name: str, scenario: Scenario, *, seed: int, preset: str = "typical", spec: BatterySpec = BALCONY
) -> BatteryResult:
    """Run one controller through a scenario."""
    if name not in CONTROLLERS:
        raise ValueError(f"unknown controller {name!r}; known: {', '.join(CONTROLLERS)}")
    if not has_preset(name):
        run = oracle_run(scenario.load_w, scenario.pv_avail_w, spec, dc=name == "oracle-dc")
        return BatteryResult(name, scenario.name, seed, None, measure(run), 0, 0)
    setup = Setup(PRESETS[preset], scenario.load_w, scenario.pv_avail_w, False, start_s=scenario.start_s)
    if name == "onbattery":
        plant: AcPlant | DcPlant = DcPlant(PRESETS[preset], spec, seed=seed, start_s=scenario.start_s)
        controller: ZeropowerBattery | OnBatteryDpl = OnBatteryDpl()
    else:
        plant = AcPlant(PRESETS[preset], spec, seed=seed, start_s=scenario.start_s)
        target = 0.0 if name == "zeropower-target-0" else None
        controller = ZeropowerBattery(setup, spec, with_battery=name != "zeropower-no-battery", target_w=target)
    plant.settle(scenario.pv_avail_w[0])
    grid, battery, soc, used = [], [], [], []
    commands = writes = 0
    for now, (load, pv) in enumerate(zip(scenario.load_w, scenario.pv_avail_w, strict=True)):
        plant.step(now, load, pv)
        if now % BATTERY_POLL_S == 0:
            controller.on_battery(now, plant.reading())
        if now % TELEMETRY_EVERY_S == 0:
            controller.on_telemetry(now, plant.telemetry())
        for device_id, setpoint in controller.on_meter(now, plant.meter_w()).items():
            plant.command(device_id, setpoint, now)
            if device_id == BATTERY_ID:
                writes += 1
            else:
                commands += 1
        grid.append(plant.grid_w)
        battery.append(plant.battery.power_w)
        soc.append(plant.battery.soc_pct)
        used.append(plant.pv_used_w)
    run = BatteryRun(
        load_w=scenario.load_w,
        pv_cap_w=[min(pv, NAMEPLATE_W) for pv in scenario.pv_avail_w],
        pv_used_w=used,
        grid_w=grid,
        battery_w=battery,
        soc_pct=soc,
        capacity_wh=spec.capacity_wh,
        max_charge_w=spec.max_charge_w if name != "zeropower-no-battery" else 0.0,
        start_soc_pct=spec.start_soc_pct,
        target_w=controller.target_w,
    )
    return BatteryResult(name, scenario.name, seed, preset, measure(run), commands, writes)
