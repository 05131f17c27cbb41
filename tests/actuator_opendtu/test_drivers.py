"""The DTU drivers: a contract every driver passes, then each one's topic layout."""

import pytest

from zeropower.actuator_opendtu.drivers import AhoyDtuConfig, DtuDriver, OpenDtuConfig, TelemetryUpdate
from zeropower.actuator_opendtu.drivers.ahoydtu import AhoyDtuDriver
from zeropower.actuator_opendtu.drivers.opendtu import OpenDtuDriver
from zeropower.actuator_opendtu.inverters import InverterSettings

SERIAL = "114182912345"
OTHER_SERIAL = "114182967890"


def opendtu() -> OpenDtuDriver:
    return OpenDtuConfig().create([InverterSettings(serial=SERIAL, max_w=800)])


def ahoydtu() -> AhoyDtuDriver:
    return AhoyDtuConfig().create([InverterSettings(name="roof", index=3, max_w=800)])


# ---- the contract: (driver, its device id, one of its telemetry topics with a valid value) -------------------

CONTRACT = [
    pytest.param(opendtu, SERIAL, f"solar/{SERIAL}/0/power", id="opendtu"),
    pytest.param(ahoydtu, "roof", "inverter/roof/ch0/P_AC", id="ahoydtu"),
]


@pytest.mark.parametrize(("make", "device_id", "power_topic"), CONTRACT)
def test_contract_subscriptions_cover_the_telemetry(make, device_id, power_topic):
    driver: DtuDriver = make()
    assert any(power_topic.startswith(f.removesuffix("#")) for f in driver.subscriptions())
    assert driver.parse(power_topic, "305.2") == TelemetryUpdate(device_id, power_w=305.2)


@pytest.mark.parametrize(("make", "device_id", "power_topic"), CONTRACT)
@pytest.mark.parametrize("garbage", ["", "abc", "nan", "inf", "1e999", "12 W"])
def test_contract_garbage_values_raise_value_error(make, device_id, power_topic, garbage):
    with pytest.raises(ValueError, match="number"):
        make().parse(power_topic, garbage)


@pytest.mark.parametrize(("make", "device_id", "power_topic"), CONTRACT)
def test_contract_other_topics_are_not_used(make, device_id, power_topic):
    driver: DtuDriver = make()
    prefix = power_topic.split("/")[0]
    assert driver.parse("somewhere/else", "1") is None
    assert driver.parse(f"{prefix}/unknown-inverter/0/power", "1") is None
    assert driver.parse(power_topic.rsplit("/", 1)[0] + "/unused_field", "1") is None


@pytest.mark.parametrize(("make", "device_id", "power_topic"), CONTRACT)
def test_contract_limit_commands_are_non_persistent(make, device_id, power_topic):
    command = make().limit_command(device_id, 600)
    assert "persistent" not in command.topic.replace("nonpersistent", "")
    assert command.payload.startswith("600")


# ---- OpenDTU ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subtopic", "payload", "expected"),
    [
        ("status/reachable", "1", TelemetryUpdate(SERIAL, reachable=True)),
        ("status/reachable", "0", TelemetryUpdate(SERIAL, reachable=False)),
        ("status/producing", "1", TelemetryUpdate(SERIAL, producing=True)),
        ("status/last_update", "1763900001", TelemetryUpdate(SERIAL, updated_at=1763900001)),
        ("status/last_update", "0", None),
        ("status/limit_absolute", "600.0", TelemetryUpdate(SERIAL, limit_w=600)),
        ("status/limit_relative", "75.00", TelemetryUpdate(SERIAL, limit_percent=75)),
        ("0/power", "305.2", TelemetryUpdate(SERIAL, power_w=305.2)),
        ("0/powerdc", "321.0", TelemetryUpdate(SERIAL, dc_power_w=321)),
        ("2/power", "160.5", TelemetryUpdate(SERIAL, dc_channel_w=(2, 160.5))),
        ("0/voltage", "231.2", None),
        ("1/name", "south panel", None),
        ("name", "roof", None),
        ("cmd/limit_nonpersistent_absolute", "600", None),
    ],
)
def test_opendtu_telemetry(subtopic, payload, expected):
    assert opendtu().parse(f"solar/{SERIAL}/{subtopic}", payload) == expected


@pytest.mark.parametrize(
    ("subtopic", "payload"),
    [("status/reachable", "yes"), ("status/limit_relative", "250"), ("status/last_update", "-5")],
)
def test_opendtu_garbage_flags_and_ranges(subtopic, payload):
    with pytest.raises(ValueError, match=repr(payload)):
        opendtu().parse(f"solar/{SERIAL}/{subtopic}", payload)


def test_opendtu_limit_command():
    driver = OpenDtuConfig(prefix="dtu").create([InverterSettings(serial=SERIAL, max_w=800)])
    command = driver.limit_command(SERIAL, 412.25)
    assert (command.topic, command.payload) == (f"dtu/{SERIAL}/cmd/limit_nonpersistent_absolute", "412.2")
    assert driver.limit_command(SERIAL, 300.0).payload == "300"


def test_opendtu_subscribes_per_inverter():
    driver = OpenDtuConfig().create(
        [InverterSettings(serial=SERIAL, max_w=800), InverterSettings(serial=OTHER_SERIAL, max_w=600)]
    )
    assert driver.subscriptions() == [f"solar/{SERIAL}/#", f"solar/{OTHER_SERIAL}/#"]


# ---- AhoyDTU ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subtopic", "payload", "expected"),
    [
        ("available", "0", TelemetryUpdate("roof", reachable=False, producing=False)),
        ("available", "1", TelemetryUpdate("roof", reachable=True, producing=False)),
        ("available", "2", TelemetryUpdate("roof", reachable=True, producing=True)),
        ("available", "3", TelemetryUpdate("roof", reachable=True, producing=False)),
        ("available", "4", TelemetryUpdate("roof", reachable=False, producing=False)),
        ("last_success", "1763900001", TelemetryUpdate("roof", updated_at=1763900001)),
        ("ch0/P_AC", "71.000", TelemetryUpdate("roof", power_w=71)),
        ("ch0/P_DC", "74.600", TelemetryUpdate("roof", dc_power_w=74.6)),
        ("ch0/PowerLimit", "80.000", TelemetryUpdate("roof", limit_percent=80)),
        ("ch1/P_DC", "25.000", TelemetryUpdate("roof", dc_channel_w=(1, 25))),
        ("ch1/U_DC", "38.9", None),
        ("ack_pwr_limit", "true", None),
    ],
)
def test_ahoydtu_telemetry(subtopic, payload, expected):
    assert ahoydtu().parse(f"inverter/roof/{subtopic}", payload) == expected


@pytest.mark.parametrize("payload", ["5", "2.5", "-1", "on"])
def test_ahoydtu_garbage_availability(payload):
    with pytest.raises(ValueError, match=repr(payload)):
        ahoydtu().parse("inverter/roof/available", payload)


def test_ahoydtu_limit_command_addresses_the_index():
    command = ahoydtu().limit_command("roof", 599.6)
    assert (command.topic, command.payload) == ("inverter/ctrl/limit/3", "600W")
    assert ahoydtu().parse("inverter/ctrl/limit/3", "600W") is None
