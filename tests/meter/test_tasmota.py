"""The Tasmota SML driver against a local server answering /cm?cmnd=Status 10."""

import pytest
from pydantic import ValidationError

from tests.meter.conftest import checked
from zeropower.meter.drivers.tasmota import TasmotaConfig, TasmotaMeter
from zeropower.meter.reading import MeterError

CAPTURE = {"StatusSNS": {"Time": "2023-02-28T12:49:49", "SML": {"total_kwh": 15011.575, "curr_w": -71}}}


def meter_for(device, http, **config):
    return TasmotaMeter(TasmotaConfig(type="tasmota", url=device.url, **config), http, timeout_s=2)


async def test_signed_power_key(device, http):
    device.json("/cm", CAPTURE)
    reading = await meter_for(device, http, power_key="curr_w").read()
    assert reading.power_w == -71
    assert device.seen("/cm")[-1].query == {"cmnd": "Status 10"}


async def test_import_minus_export_with_own_prefix(device, http):
    device.json("/cm", {"StatusSNS": {"Meter": {"Power_in": 0, "Power_out": 312.5}}})
    reading = await meter_for(device, http, prefix="Meter", import_key="Power_in", export_key="Power_out").read()
    assert reading.power_w == -312.5


async def test_missing_key_is_named(device, http):
    device.json("/cm", CAPTURE)
    with pytest.raises(MeterError, match=r"no key 'Power_curr' at StatusSNS/SML \(keys there: curr_w, total_kwh\)"):
        await meter_for(device, http, power_key="Power_curr").read()


async def test_wrong_prefix_is_named(device, http):
    device.json("/cm", CAPTURE)
    with pytest.raises(MeterError, match="no key 'MT175' at StatusSNS"):
        await meter_for(device, http, prefix="MT175", power_key="curr_w").read()


async def test_non_numeric_value(device, http):
    device.json("/cm", {"StatusSNS": {"SML": {"curr_w": "---"}}})
    with pytest.raises(MeterError, match="StatusSNS/SML/curr_w is '---', not a number"):
        await meter_for(device, http, power_key="curr_w").read()


async def test_credentials_go_into_the_query_but_never_into_errors(device, http):
    device.json("/cm", {"WARNING": "Need user=<username>&password=<password>"})
    meter = meter_for(device, http, power_key="curr_w", username="admin", password="hunter2")
    with pytest.raises(MeterError, match="Tasmota refused the command: Need user") as caught:
        await meter.read()
    assert device.seen("/cm")[-1].query == {"cmnd": "Status 10", "user": "admin", "password": "hunter2"}
    device.status("/cm", 500)
    with pytest.raises(MeterError, match="HTTP 500") as caught:
        await meter.read()
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("keys", "match"),
    [
        ({}, "set power_key"),
        ({"import_key": "in"}, "set power_key"),
        ({"power_key": "p", "import_key": "in", "export_key": "out"}, "not both"),
        ({"power_key": "p", "energy_import_key": "Total_in"}, "both energy_import_key and energy_export_key"),
    ],
)
def test_config_needs_one_way_to_read_power(keys, match):
    with pytest.raises(ValidationError, match=match):
        TasmotaConfig(type="tasmota", url="http://192.168.1.60", **keys)


@pytest.mark.parametrize(
    ("config", "power", "expected"),
    [
        ({"unit": "kW"}, -0.412, -412.0),  # a script whose meter line reports kW (e.g. OBIS 16.7.0 in kW)
        ({"unit": "kW", "invert": True}, 0.412, -412.0),
        ({"invert": True}, 71, -71.0),
        ({"unit": "mW"}, 71000, 71.0),
    ],
)
async def test_unit_and_invert(device, http, config, power, expected):
    device.json("/cm", {"StatusSNS": {"SML": {"curr_w": power}}})
    values = await meter_for(device, http, power_key="curr_w", **config).read()
    assert values.power_w == pytest.approx(expected)


async def test_import_minus_export_in_kilowatts(device, http):
    device.json("/cm", {"StatusSNS": {"SML": {"pwr_imp": 0.0, "pwr_exp": 0.412}}})
    values = await meter_for(device, http, import_key="pwr_imp", export_key="pwr_exp", unit="kW").read()
    assert values.power_w == pytest.approx(-412.0)


async def test_counters_in_wh_and_a_missing_counter_drops_both_but_not_the_power(device, http, caplog):
    meter = meter_for(
        device, http, power_key="curr_w", energy_import_key="E_in", energy_export_key="E_out", energy_unit="Wh"
    )
    device.json("/cm", {"StatusSNS": {"SML": {"curr_w": 250, "E_in": 1_234_567, "E_out": 890}}})
    reading = checked(await meter.read())
    assert (reading.power_w, reading.energy_import_wh, reading.energy_export_wh) == (250, 1_234_567, 890)
    device.json("/cm", {"StatusSNS": {"SML": {"curr_w": 260, "E_in": 1_234_568}}})  # a script line failed
    reading = checked(await meter.read())
    assert (reading.power_w, reading.energy_import_wh, reading.energy_export_wh) == (260, None, None)
    assert "energy counter StatusSNS/SML/E_out is missing (null), not a number" in caplog.text
