"""The decision logic closing the loop over the simulator's plant model, in simulated time.

Meter readings every 1 s, inverter telemetry every 5 s (as OpenDTU), limits applied by the plant's
Hoymiles model (dead time, ramp). No I/O: a simulated hour runs in well under a second.
"""

import itertools
from dataclasses import dataclass, field

import pytest

from zeropower.controller.logic import HORIZON_TOLERANCE_S, ZeroExportController
from zeropower.controller.settings import ControllerSettings
from zeropower.shared.messages import DeviceInfo, DeviceState, GridReading
from zeropower.sim.plant import Plant
from zeropower.sim.settings import BatterySettings, InverterSettings, SimSettings

STEP_S = 0.1
TELEMETRY_EVERY_S = 5.0


@dataclass
class Loop:
    plant: Plant
    controller: ZeroExportController
    now: float = 0.0
    commands: int = 0
    grid_log: list[tuple[float, float]] = field(default_factory=list)

    def run(self, seconds: float) -> None:
        steps = round(seconds / STEP_S)
        for _ in range(steps):
            self.plant.step(STEP_S)
            self.now = self.plant.now_s
            tenth = round(self.now * 10)
            if tenth % round(TELEMETRY_EVERY_S * 10) == 0:
                for inverter in self.plant.inverters.values():
                    self.controller.on_device_state(
                        DeviceState(
                            timestamp=self.now,
                            actuator_id="dtu",
                            device_id=inverter.serial,
                            reachable=True,
                            producing=inverter.producing,
                            power_w=inverter.output_w,
                            limit_w=inverter.limit_w,
                            updated_at=self.now,
                        )
                    )
            if tenth % 10 == 0:
                battery = self.plant.battery
                if battery is not None:  # as actuator-battery publishes it after each read
                    self.controller.on_device_state(
                        DeviceState(
                            timestamp=self.now,
                            actuator_id="bat",
                            device_id="bat1",
                            reachable=True,
                            producing=False,
                            power_w=battery.power_w,
                            soc_pct=battery.soc_pct,
                            updated_at=self.now,
                        )
                    )
                self.grid_log.append((self.now, self.plant.grid_w))
                decision = self.controller.on_grid(GridReading(timestamp=self.now, power_w=self.plant.grid_w))
                heater = self.plant.heater
                if heater is not None:  # a linear (solid-state relay) heater: duty = power share
                    heater.set_duty(decision.setpoints["pwm"]["heater"] / heater.settings.rated_w)
                if battery is not None:
                    setpoint = decision.setpoints["bat"]["bat1"]
                    if setpoint != self.battery_setpoints[-1][1]:
                        battery.command(setpoint, self.now)
                        self.battery_setpoints.append((self.now, setpoint))
                for serial, limit_w in decision.setpoints.get("dtu", {}).items():
                    if abs(self.plant.inverters[serial].limit_w - limit_w) >= 1 and self._new_command(serial, limit_w):
                        self.plant.command_limit(serial, limit_w)
                        self.commands += 1

    _sent: dict[str, float] = field(default_factory=dict)
    battery_setpoints: list[tuple[float, float]] = field(default_factory=lambda: [(0.0, 0.0)])

    def _new_command(self, serial: str, limit_w: float) -> bool:
        if self._sent.get(serial) == limit_w:
            return False
        self._sent[serial] = limit_w
        return True

    def export_wh(self, since: float) -> float:
        return sum(max(-grid, 0.0) for t, grid in self.grid_log if t > since) / 3600.0


def make_loop(
    dead_time_s: float = 4.0,
    heater_w: float | None = None,
    battery: BatterySettings | None = None,
    **controller_settings,
) -> Loop:
    sim = SimSettings(
        heater=None if heater_w is None else {"rated_w": heater_w, "controller": "linear"},
        battery=battery,
        load={"base_w": 300, "noise_w": 0, "appliances": []},
        pv={"kind": "constant", "power_w": 1300, "clouds": {"per_hour": 0}},
        inverters=[
            InverterSettings(serial="114182912345", name="roof", max_w=800, dead_time_s=dead_time_s),
            InverterSettings(serial="112182954321", name="balcony", max_w=400, dead_time_s=dead_time_s),
        ],
    )
    plant = Plant(sim)
    clock = lambda: plant.now_s  # noqa: E731
    settings = ControllerSettings(target_w=20, dead_time_s=dead_time_s + 1, **controller_settings)
    controller = ZeroExportController(settings, clock)
    controller.set_actuator(
        "dtu",
        [
            DeviceInfo(device_id="114182912345", name="roof", min_w=40, max_w=800),
            DeviceInfo(device_id="112182954321", name="balcony", min_w=20, max_w=400),
        ],
    )
    if battery is not None:
        storage = {"capacity_wh": battery.capacity_wh, "min_soc_pct": 10, "max_soc_pct": 95, "response_time_s": 3}
        controller.set_actuator(
            "bat",
            [
                DeviceInfo(
                    device_id="bat1",
                    name="battery",
                    kind="storage",
                    min_w=-battery.max_discharge_w,
                    max_w=battery.max_charge_w,
                    storage=storage,
                )
            ],
        )
    if heater_w is not None:
        controller.set_actuator(
            "pwm", [DeviceInfo(device_id="heater", name="heater", kind="consumer", min_w=0, max_w=heater_w)]
        )
    return Loop(plant, controller)


def settled_grid(loop: Loop, seconds: float = 20) -> list[float]:
    return [grid for t, grid in loop.grid_log if t > loop.now - seconds]


@pytest.mark.parametrize("dead_time_s", [3.0, 8.0, 18.0])
def test_settles_after_load_steps_without_oscillating(dead_time_s):
    loop = make_loop(dead_time_s=dead_time_s)
    loop.run(120)
    assert all(abs(grid - 20) < 40 for grid in settled_grid(loop))
    for load in (1000, 200, 700, 350):
        loop.plant.set_load_w(load)
        loop.run(120)
        assert all(abs(grid - 20) < 40 for grid in settled_grid(loop)), (load, settled_grid(loop))
    commands_before = loop.commands
    loop.run(600)  # ten steady minutes: no hunting
    assert loop.commands - commands_before <= 4


def test_load_drop_export_is_bounded_by_the_dead_time():
    loop = make_loop(dead_time_s=4.0)
    loop.plant.set_load_w(1100)
    loop.run(120)
    drop_at = loop.now
    loop.plant.set_load_w(300)  # 800 W less
    loop.run(60)
    exporting = [t - drop_at for t, grid in loop.grid_log if t > drop_at and grid < -30]
    assert exporting, "a drop must export until the inverters follow"
    assert max(exporting) < 4.0 + 1.0 + 8.0 / 1.0 + 2  # dead time + meter period + ramp (800 W at 100 W/s) + slack
    assert loop.export_wh(drop_at) < 800 * 13 / 3600


def test_clouds_do_not_wind_up_the_limits():
    loop = make_loop()
    loop.plant.set_load_w(600)
    loop.run(60)
    loop.plant.set_pv_w(300)  # a cloud: less sun than load, the inverters run at what the sun gives
    loop.run(120)
    limits = sum(inverter.limit_w for inverter in loop.plant.inverters.values())
    assert limits == pytest.approx(600 - 20, abs=40)  # where the load is, not at the 1200 W maximum
    loop.plant.set_pv_w(1300)  # the sun is back: the output rises to the load, not to the maximum
    cloud_end = loop.now
    loop.run(60)
    assert loop.export_wh(cloud_end) < 0.4  # with the limits at their 1200 W maximum: over 1 Wh


def test_surplus_goes_into_the_heater_first_and_the_heater_gives_way_first():
    loop = make_loop(dead_time_s=8.0, heater_w=500)
    loop.run(120)  # 300 W load, 1200 W output: 900 W surplus, 500 W of it into the heater, the rest curtailed
    assert loop.plant.heater.power_w == pytest.approx(500)
    assert loop.plant.limit_w == pytest.approx(1200 - 400 + 20, abs=40)
    assert all(abs(grid - 20) < 40 for grid in settled_grid(loop))
    rise_at = loop.now
    loop.plant.set_load_w(900)  # +600 W: the heater gives way within seconds, the inverters are raised
    loop.run(4)
    assert loop.plant.heater.power_w < 150
    assert loop.plant.limit_w < 900  # the inverters have not followed yet
    loop.run(116)
    assert loop.plant.limit_w == pytest.approx(1200)  # no curtailment left ...
    assert loop.plant.heater.power_w == pytest.approx(300 - 20, abs=40)  # ... and the heater takes the rest
    assert all(abs(grid - 20) < 40 for grid in settled_grid(loop))
    imported_wh = sum(max(grid - 20, 0.0) for t, grid in loop.grid_log if t > rise_at) / 3600.0
    assert imported_wh < 600 * 4 / 3600


def test_diverters_switched_off_hand_their_draw_to_the_inverters_without_export():
    loop = make_loop(dead_time_s=8.0, heater_w=2000)
    loop.run(120)  # 300 W load, 1200 W output: the heater takes the 880 W surplus, nothing curtailed
    assert loop.plant.heater.power_w == pytest.approx(1200 - 300 - 20, abs=40)
    switched_off = loop.now
    loop.controller.settings = loop.controller.settings.model_copy(update={"divert": False})
    heater_log = []
    for _ in range(60):
        loop.run(1)
        heater_log.append(loop.plant.heater.power_w)
    assert loop.plant.heater.power_w == 0
    assert all(later <= earlier + 1 for earlier, later in itertools.pairwise(heater_log))  # never up
    assert loop.plant.limit_w == pytest.approx(300 + 20, abs=40)  # the inverters took the surplus over
    assert loop.export_wh(switched_off) < 0.1  # 0.0 Wh; set to 0 at once it exported 2.9 Wh (880 W, a dead time)
    assert all(abs(grid - 20) < 40 for grid in settled_grid(loop))
    loop.controller.settings = loop.controller.settings.model_copy(update={"divert": True})
    loop.run(90)
    assert loop.plant.heater.power_w == pytest.approx(1200 - 300 - 20, abs=40)  # back on: it takes the surplus


def test_a_heater_alone_absorbs_export_without_inverter_control():
    loop = make_loop(heater_w=2000)
    loop.controller.set_actuator("dtu", [])  # only the diverter, as in the reference Pi system
    loop.plant.set_load_w(300)
    loop.run(60)
    assert loop.plant.limit_w == pytest.approx(1200)
    assert loop.plant.heater.power_w == pytest.approx(1200 - 300 - 20, abs=30)
    assert loop.export_wh(loop.now - 30) == 0


@pytest.mark.parametrize(("true_s", "configured_s"), [(18.0, 8.0), (3.0, 8.0)])
def test_a_wrong_dead_time_is_learned_from_telemetry(true_s, configured_s):
    # Every step moves both inverters. The steps come every 90 s like clockwork: the load forecast would learn
    # them and move the limits ahead of them, which is not what this measures (forecast_load=False).
    loop = make_loop(dead_time_s=true_s, allocation="proportional", forecast_load=False)
    loop.controller.settings = loop.controller.settings.model_copy(update={"dead_time_s": configured_s})
    loop.run(120)
    for load in (1000, 300) * 6:  # twelve load steps: each a limit change the telemetry shows
        loop.plant.set_load_w(load)
        loop.run(90)
    learned = loop.controller.learned_dynamics()
    first, _ = learned["114182912345"]
    assert first.dead_time_s == pytest.approx(true_s, abs=1.5)
    # The second inverter's commands wait behind the first's on the DTU's one radio (2 s each, a newer one
    # replacing a queued one): from the controller's side it follows a few seconds later.
    second, _ = learned["112182954321"]
    assert true_s - 1.5 <= second.dead_time_s <= true_s + 6
    assert all(abs(grid - 20) < 40 for grid in settled_grid(loop))


def pulsing_hob(loop: Loop, cycles: int, on_s: int = 20, off_s: int = 20) -> float:
    """A 900 W hob on the 300 W base load, pulsing; returns the time it started."""
    started = loop.now
    for _ in range(cycles):
        loop.plant.set_load_w(1200)
        loop.run(on_s)
        loop.plant.set_load_w(300)
        loop.run(off_s)
    return started


def test_with_the_load_forecast_a_pulsing_hob_exports_less():
    # Followed, each end of a pulse exports for a dead time and a ramp; learned, the limits come down as
    # the pulse is due to end (at the price of some import and curtailment before it does).
    exported = {}
    for forecast_load in (False, True):
        loop = make_loop(dead_time_s=8.0, forecast_load=forecast_load)
        loop.run(60)
        learned = pulsing_hob(loop, 60)  # an hour and more: every state seen often enough
        exported[forecast_load] = loop.export_wh(learned + 40 * 40)
    assert exported[True] < 0.6 * exported[False], exported


def test_the_load_forecast_looks_as_far_ahead_as_the_learned_dead_time():
    loop = make_loop(dead_time_s=18.0, forecast_load=True)
    loop.controller.settings = loop.controller.settings.model_copy(update={"dead_time_s": 8.0})  # configured wrong
    loop.run(60)
    assert loop.controller.forecast_horizon_s == 8
    for load in (1000, 300) * 6:  # twelve load steps: each a limit change the telemetry shows
        loop.plant.set_load_w(load)
        loop.run(90)
    learned = {serial: dynamics.dead_time_s for serial, (dynamics, _) in loop.controller.learned_dynamics().items()}
    weighted = (800 * learned["114182912345"] + 400 * learned["112182954321"]) / 1200  # roof 800 W, balcony 400 W
    assert loop.controller.forecast_horizon_s == pytest.approx(weighted, abs=HORIZON_TOLERANCE_S + 0.5)
    assert loop.controller.forecast_horizon_s == pytest.approx(18, abs=3)  # the second inverter waits on the radio


def test_surplus_charges_the_battery_first_then_the_heater_and_the_inverters_stay_unlimited():
    loop = make_loop(dead_time_s=8.0, heater_w=2000, battery=BatterySettings(max_charge_w=600))
    loop.run(180)  # 300 W load, 1200 W of sun: 880 W surplus, 600 W into the battery, the rest into the heater
    assert loop.plant.battery.power_w == pytest.approx(600, abs=5)
    assert loop.plant.heater.power_w == pytest.approx(1200 - 300 - 600 - 20, abs=30)
    assert loop.plant.limit_w == pytest.approx(1200)  # nothing curtailed
    assert loop.export_wh(60) == 0


def test_a_battery_filling_up_hands_its_share_to_the_heater_without_export_or_oscillation():
    battery = BatterySettings(capacity_wh=100, soc_pct=93, max_charge_w=600)
    loop = make_loop(dead_time_s=8.0, heater_w=2000, battery=battery)
    loop.run(5)
    assert loop.plant.battery.power_w == pytest.approx(600, abs=5)
    filling = loop.now
    loop.run(120)  # 2 % of 100 Wh at ~570 W into the cells: full (95 %) after ~13 s
    assert loop.plant.battery.power_w == 0
    assert loop.plant.heater.power_w == pytest.approx(1200 - 300 - 20, abs=30)
    assert loop.export_wh(filling) < 0.2
    # After it filled, one setpoint: 0 (no windup of the charge it was refused, no back and forth).
    assert [setpoint for at, setpoint in loop.battery_setpoints if at > filling + 20] == []


def test_on_a_deficit_the_battery_discharges_down_to_its_reserve_then_the_grid_takes_over():
    battery = BatterySettings(capacity_wh=100, soc_pct=12, max_discharge_w=800)
    loop = make_loop(dead_time_s=8.0, battery=battery)
    loop.plant.set_load_w(1500)  # 1200 W of sun: a 300 W deficit
    loop.run(20)
    assert loop.plant.battery.power_w == pytest.approx(-(1500 - 1200 - 20), abs=15)
    assert abs(loop.plant.grid_w - 20) < 15
    loop.run(60)  # 2 % of 100 Wh at 280 W: at its 10 % reserve after ~25 s
    assert loop.plant.battery.power_w == 0
    assert loop.plant.grid_w == pytest.approx(1500 - 1200, abs=5)  # from the grid, never below the reserve
    assert loop.plant.battery.soc_pct > 9.5


def test_a_battery_delivering_less_than_announced_is_not_wound_up_and_a_load_drop_exports_less():
    # Its BMS lets it discharge 400 W, not the 800 W announced: the controller asks 100 W beyond what it shows,
    # so a load drop's cut reaches its real power in one step (asked 800 W, the first cut undid only the
    # 400 W it never delivered: 0.24 Wh exported against 0.17 Wh).
    loop = make_loop(dead_time_s=8.0, battery=BatterySettings(max_discharge_w=400, soc_pct=60))
    storage = {"capacity_wh": 2000, "min_soc_pct": 10, "max_soc_pct": 95, "response_time_s": 3}
    announced = DeviceInfo(device_id="bat1", name="battery", kind="storage", min_w=-800, max_w=1000, storage=storage)
    loop.controller.set_actuator("bat", [announced])
    loop.plant.set_load_w(2000)  # 800 W above the sun
    loop.run(40)
    assert loop.plant.battery.power_w == -400
    assert [setpoint for at, setpoint in loop.battery_setpoints if at > 20] in ([], [-500.0])
    assert loop.battery_setpoints[-1][1] == -500
    dropped = loop.now
    loop.plant.set_load_w(1300)
    loop.run(30)
    assert loop.export_wh(dropped) < 0.2
