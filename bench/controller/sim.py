"""Closes a controller over the plant at 1 s in simulated time."""

from __future__ import annotations

from dataclasses import dataclass

from bench.controller.controllers import available
from bench.controller.layouts import LAYOUTS
from bench.controller.metrics import Metrics, Run, measure
from bench.controller.plant import HEATER_ID, PRESETS, TELEMETRY_EVERY_S, Plant
from bench.controller.protocol import DEFAULTS, ProductOptions, Setup
from bench.controller.scenario import Scenario


@dataclass(frozen=True)
class Trace:
    """Per-second series of a run, for plots (limits and outputs summed over the inverters)."""

    start_s: int
    load_w: list[float]
    pv_cap_w: list[float]
    grid_w: list[float]
    limit_w: list[float]
    output_w: list[float]
    heater_w: list[float]


@dataclass(frozen=True)
class Result:
    """One controller on one scenario, preset and plant."""

    controller: str
    scenario: str
    preset: str
    metrics: Metrics
    trace: Trace | None
    plant: str = "single"


def simulate(
    controller_name: str,
    scenario: Scenario,
    preset_name: str,
    *,
    seed: int,
    keep_trace: bool,
    plant: str = "single",
    product: ProductOptions = DEFAULTS,
) -> Result:
    """Run one controller through a scenario on one plant (inverters) and preset (their dynamics).

    ``product``: how zeropower is configured (the product's defaults unless given).
    """
    preset, layout = PRESETS[preset_name], LAYOUTS[plant]
    setup = Setup(preset, scenario.load_w, scenario.pv_avail_w, scenario.heater, layout, scenario.start_s, product)
    controller = available(heater=scenario.heater)[controller_name](setup)
    instant = controller.perfect_actuator
    model = Plant(preset, heater=scenario.heater, seed=seed, layout=layout, start_s=scenario.start_s, instant=instant)
    model.settle(scenario.pv_avail_w[0])
    pv_cap = [sum(setup.caps_w(n)) for n in range(len(scenario.pv_avail_w))]
    grid, output, limit, heater, commands = [], [], [], [], []
    for now, (load, pv) in enumerate(zip(scenario.load_w, scenario.pv_avail_w, strict=True)):
        model.step(now, load, pv)
        if now % TELEMETRY_EVERY_S == 0:
            controller.on_telemetry(now, model.telemetry())
        for device_id, setpoint in controller.on_meter(now, model.meter_w()).items():
            model.command(device_id, setpoint, now)
            if device_id != HEATER_ID:
                commands.append((now, device_id))
        grid.append(model.grid_w)
        output.append(model.output_w)
        limit.append(model.limit_w)
        heater.append(model.heater_w)
    run = Run(
        target_w=controller.target_w,
        min_limit_w=setup.min_limit_w,
        load_w=scenario.load_w,
        pv_cap_w=pv_cap,
        grid_w=grid,
        output_w=output,
        command_times_s=commands,
        inverters=len(layout.inverters),
        controls_inverter=not scenario.heater,
    )
    trace = Trace(scenario.start_s, scenario.load_w, pv_cap, grid, limit, output, heater) if keep_trace else None
    return Result(controller_name, scenario.name, preset_name, measure(run), trace, plant)
