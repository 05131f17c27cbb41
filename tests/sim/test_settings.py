"""Simulator settings: demo defaults, the PV profile union, and the rules naming what is wrong."""

import pytest
from pydantic import ValidationError

from zeropower.sim.settings import (
    ApplianceSettings,
    BatterySettings,
    CloudSettings,
    ConstantPv,
    DayCurvePv,
    InverterSettings,
    LoadSettings,
    MarstekEmulatorSettings,
    OpenDtuSettings,
    ShellySettings,
    SimSettings,
    ZendureSettings,
)


def test_defaults_make_a_demo_that_has_to_regulate():
    sim = SimSettings()
    assert [inverter.max_w for inverter in sim.inverters] == [800, 400]
    assert isinstance(sim.pv, ConstantPv)
    assert sim.pv.power_w > sim.load.base_w  # export unless limited
    assert max(appliance.power_w for appliance in sim.load.appliances) > sum(i.max_w for i in sim.inverters)
    assert (sim.opendtu.prefix, sim.opendtu.publish_interval_s, sim.opendtu.retain) == ("solar", 5.0, True)
    assert sim.shelly.password is None


def test_every_field_is_described():
    models = (
        SimSettings,
        LoadSettings,
        ApplianceSettings,
        CloudSettings,
        ConstantPv,
        DayCurvePv,
        InverterSettings,
        ShellySettings,
        OpenDtuSettings,
        BatterySettings,
        ZendureSettings,
        MarstekEmulatorSettings,
    )
    for model in models:
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


def test_the_pv_profile_is_chosen_by_kind():
    sim = SimSettings.model_validate({"pv": {"kind": "day", "peak_w": 1500, "time_lapse": 60}})
    assert isinstance(sim.pv, DayCurvePv)
    assert (sim.pv.peak_w, sim.pv.time_lapse) == (1500, 60)


def test_the_battery_is_served_as_a_zendure_unless_told_otherwise():
    assert SimSettings.model_validate({"battery": {}}).battery.protocol == "zendure"
    sim = SimSettings.model_validate({"battery": {"protocol": "marstek_venus"}, "marstek": {"port": 30001}})
    assert (sim.battery.protocol, sim.marstek.port, sim.marstek.device) == ("marstek_venus", 30001, "VenusE 3.0")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"inverters": [{"serial": "114182912345", "name": "a", "max_w": 800}] * 2},
            "inverters[1].serial 114182912345 is configured more than once",
        ),
        ({"inverters": []}, "inverters"),
        ({"inverters": [{"serial": "1141", "name": "a", "max_w": 800}]}, "inverters.0.serial"),
        ({"load": {"appliances": [{"name": "x", "power_w": 1, "on_s": 10, "every_s": 10}]}}, "shorter than every_s"),
        ({"pv": {"kind": "day", "sunrise_h": 20, "sunset_h": 6}}, "sunrise_h must be before sunset_h"),
        ({"pv": {"kind": "moon"}}, "pv"),
        ({"step_s": 0}, "step_s"),
        ({"shelly": {"hostname": "x"}}, "hostname"),
        ({"battery": {"protocol": "modbus"}}, "battery.protocol"),
        ({"marstek": {"ble_mac": "nope"}}, "marstek.ble_mac"),
    ],
)
def test_invalid_settings_name_the_problem(values, message):
    with pytest.raises(ValidationError) as caught:
        SimSettings.model_validate(values)
    assert message in str(caught.value)
