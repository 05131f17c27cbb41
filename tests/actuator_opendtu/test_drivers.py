"""The DTU drivers: a contract every driver passes, then each one's topic layout.

Payload examples are taken from the firmware sources:
- OpenDTU: tbnobody/OpenDTU at b6f0353b4e3c5a807f1145dfadce10c155bbb244, ``src/MqttHandleInverter.cpp`` (topics,
  ``status/*`` as Arduino ``String``: a float with 2 decimals, a bool as ``1``/``0``), the field digits in
  ``lib/Hoymiles/src/inverters/HM_2CH.cpp`` (``0/power`` with 1 decimal).
- AhoyDTU: lumapu/ahoy at c4fe30f118bd334afa548d71b56018b73dafd6cb, ``src/publisher/pubMqttIvData.h`` (``ch<n>/<field>``
  as ``%g``, ``last_success`` as ``%d``), ``src/publisher/pubMqtt.h`` (``available`` as ``%d`` of ``InverterStatus``
  from ``src/hm/hmInverter.h``; ``ctrl/limit/<id>``: a payload ending in ``W`` is an absolute non-persistent
  limit), ``src/hm/hmDefines.h`` (field ``active_PowerLimit`` on ch0, renamed from ``active PowerLimit`` in
  0.5.90, commit 9ef2df21fa5138e83bfd44041311e7b40f18ef22).
"""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zeropower.actuator_opendtu.drivers import AhoyDtuConfig, DtuDriver, OpenDtuConfig, TelemetryUpdate
from zeropower.actuator_opendtu.drivers.ahoydtu import AhoyDtuDriver
from zeropower.actuator_opendtu.drivers.opendtu import OpenDtuDriver
from zeropower.actuator_opendtu.inverters import InverterSettings
from zeropower.shared.messages import MAX_ENERGY_WH, MAX_POWER_W, MAX_TIMESTAMP

SERIAL = "114182912345"
OTHER_SERIAL = "114182967890"
#: No example database (nothing written to the work tree); a failure prints the blob that replays it.
PROPERTY = settings(max_examples=300, deadline=None, database=None, print_blob=True)


def opendtu() -> OpenDtuDriver:
    return OpenDtuConfig().create([InverterSettings(serial=SERIAL, max_w=800)])


def ahoydtu() -> AhoyDtuDriver:
    return AhoyDtuConfig().create([InverterSettings(name="roof", index=3, max_w=800)])


#: Every telemetry topic each driver reads, with the field it fills.
OPENDTU_TOPICS = {
    f"solar/{SERIAL}/status/reachable": "reachable",
    f"solar/{SERIAL}/status/producing": "producing",
    f"solar/{SERIAL}/status/last_update": "updated_at",
    f"solar/{SERIAL}/status/limit_absolute": "limit_w",
    f"solar/{SERIAL}/status/limit_relative": "limit_percent",
    f"solar/{SERIAL}/0/power": "power_w",
    f"solar/{SERIAL}/0/powerdc": "dc_power_w",
    f"solar/{SERIAL}/0/yieldtotal": "energy_wh",
    f"solar/{SERIAL}/2/power": "dc_channel_w",
}
AHOYDTU_TOPICS = {
    "inverter/roof/available": "reachable",
    "inverter/roof/last_success": "updated_at",
    "inverter/roof/ch0/P_AC": "power_w",
    "inverter/roof/ch0/P_DC": "dc_power_w",
    "inverter/roof/ch0/active_PowerLimit": "limit_percent",
    "inverter/roof/ch0/YieldTotal": "energy_wh",
    "inverter/roof/ch2/P_DC": "dc_channel_w",
}
#: Every topic the drivers read, with every DC input.
READ_TOPICS = (
    {*OPENDTU_TOPICS, *AHOYDTU_TOPICS}
    | {f"solar/{SERIAL}/{n}/power" for n in range(1, 7)}
    | {f"inverter/roof/ch{n}/P_DC" for n in range(1, 7)}
)
EVERY_TOPIC = [(opendtu, topic) for topic in OPENDTU_TOPICS] + [(ahoydtu, topic) for topic in AHOYDTU_TOPICS]
#: Text, random bytes as the service decodes them, and what Python's float() would read.
PAYLOADS = st.one_of(
    st.text(max_size=30),
    st.binary(max_size=30).map(lambda raw: raw.decode(errors="replace")),
    st.from_regex(
        r"[-+]?[0-9_]{0,14}(\.[0-9_]{0,12})?([eE][-+]?[0-9]{1,3})?|0x[0-9a-f]{1,4}|-?(nan|inf)", fullmatch=True
    ),
)

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
@pytest.mark.parametrize(
    "garbage",
    ["", "abc", "nan", "-inf", "inf", "1e308", "1e999", "1_2_3", "0x10", "12 W", "1e3", "+5", ".5", "\u0663", "1" * 13],
)
def test_contract_garbage_values_raise_value_error(make, device_id, power_topic, garbage):
    with pytest.raises(ValueError, match="not a number"):
        make().parse(power_topic, garbage)


@pytest.mark.parametrize(("make", "topic"), EVERY_TOPIC)
@pytest.mark.parametrize(
    "garbage",
    [
        "1e308",
        "1_2_3",
        "nan",
        "-inf",
        "0x10",
        "",
        "1" * 1_000_000,
        "x" * 1_000_000,
        bytes(range(256)).decode(errors="replace"),
    ],
    ids=["1e308", "1_2_3", "nan", "-inf", "0x10", "empty", "1MB-digits", "1MB-text", "random-bytes"],
)
def test_contract_garbage_on_every_topic_raises_a_short_value_error(make, topic, garbage):
    with pytest.raises(ValueError, match=r"^[^\n]{1,500}$"):
        make().parse(topic, garbage)


@pytest.mark.parametrize(("make", "device_id", "power_topic"), CONTRACT)
def test_contract_powers_are_bounded(make, device_id, power_topic):
    driver: DtuDriver = make()
    assert driver.parse(power_topic, "1000000") == TelemetryUpdate(device_id, power_w=MAX_POWER_W)
    assert driver.parse(power_topic, "-0") == TelemetryUpdate(device_id, power_w=0)  # %g of -0.0
    with pytest.raises(ValueError, match=r"not a power within ±1000000 W: '1000000.1'"):
        driver.parse(power_topic, "1000000.1")


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


@pytest.mark.parametrize(
    ("config", "inverter"),
    [
        (OpenDtuConfig(), InverterSettings(serial=SERIAL, max_w=6600)),
        (AhoyDtuConfig(), InverterSettings(name="roof", index=0, max_w=6600)),
    ],
)
def test_contract_limits_beyond_16_bit_tenths_of_a_watt_are_refused(config, inverter):
    """Both DTUs send ``limit * 10`` as a 16-bit number: 6600 W would reach the inverter as a wrong limit."""
    with pytest.raises(ValueError, match=r"inverters\[0\]\.max_w \(6600 W\) is above 6553.5 W"):
        config.device_ids([inverter])


@pytest.mark.parametrize(("make", "topic"), EVERY_TOPIC)
@PROPERTY
@given(payload=PAYLOADS)
def test_property_any_payload_is_read_in_bounds_or_refused_with_value_error(make, topic, payload):
    result = parse_or_error(make(), topic, payload)
    if isinstance(result, ValueError):
        assert len(str(result)) <= 500
    elif result is None:  # a DTU without a synchronised clock, or without the inverter's yield yet
        assert topic.endswith(("last_update", "last_success", "yieldtotal", "YieldTotal"))
    else:
        assert_bounded(result)


@pytest.mark.parametrize(("make", "topic"), EVERY_TOPIC)
@PROPERTY
@given(
    suffix=st.one_of(st.text(max_size=20), st.from_regex(r"(ch)?[0-9]{1,3}/(power|P_DC|P_AC)", fullmatch=True)),
    payload=st.text(max_size=12),
)
def test_property_any_topic_of_an_inverter_is_read_ignored_or_refused(make, topic, suffix, payload):
    """Only the topics a driver reads may raise: the service keeps one rate-limited log per such topic."""
    head = topic.split("/")[0] + "/" + topic.split("/")[1] + "/"
    result = parse_or_error(make(), head + suffix, payload)
    if isinstance(result, TelemetryUpdate):
        assert_bounded(result)
    if isinstance(result, ValueError):
        assert head + suffix in READ_TOPICS


POWER_TOPICS = [
    (make, topic, field)
    for make, topics in [(opendtu, OPENDTU_TOPICS), (ahoydtu, AHOYDTU_TOPICS)]
    for topic, field in topics.items()
    if field in {"power_w", "dc_power_w", "dc_channel_w"}
]


@pytest.mark.parametrize(("make", "topic", "field"), POWER_TOPICS)
@PROPERTY
@given(value=st.decimals(min_value=-MAX_POWER_W, max_value=MAX_POWER_W, places=3))
def test_property_every_power_as_the_dtus_print_it_is_read(make, topic, field, value):
    update = make().parse(topic, f"{value:f}")
    read = update.dc_channel_w[1] if field == "dc_channel_w" else getattr(update, field)
    assert read == float(value)


def parse_or_error(driver: DtuDriver, topic: str, payload: str) -> TelemetryUpdate | ValueError | None:
    try:
        return driver.parse(topic, payload)
    except ValueError as error:
        return error


def assert_bounded(update: TelemetryUpdate) -> None:
    for power in (update.power_w, update.dc_power_w, update.limit_w):
        assert power is None or abs(power) <= MAX_POWER_W
    assert update.limit_w is None or update.limit_w >= 0
    assert update.limit_percent is None or 0 <= update.limit_percent <= 100
    assert update.updated_at is None or 1e9 <= update.updated_at <= MAX_TIMESTAMP
    assert update.energy_wh is None or 0 < update.energy_wh <= MAX_ENERGY_WH
    if update.dc_channel_w is not None:
        channel, power = update.dc_channel_w
        assert 1 <= channel <= 6
        assert abs(power) <= MAX_POWER_W


# ---- OpenDTU ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subtopic", "payload", "expected"),
    [
        ("status/reachable", "1", TelemetryUpdate(SERIAL, reachable=True)),
        ("status/reachable", "0", TelemetryUpdate(SERIAL, reachable=False)),
        ("status/producing", "1", TelemetryUpdate(SERIAL, producing=True)),
        ("status/last_update", "1763900001", TelemetryUpdate(SERIAL, updated_at=1763900001)),
        ("status/last_update", "0", None),  # no statistics yet: OpenDTU publishes String(0)
        ("status/last_update", "523", None),  # before NTP: seconds since boot
        ("status/limit_absolute", "600.00", TelemetryUpdate(SERIAL, limit_w=600)),
        ("status/limit_relative", "75.00", TelemetryUpdate(SERIAL, limit_percent=75)),
        ("status/limit_relative", "100.00", TelemetryUpdate(SERIAL, limit_percent=100)),
        ("0/power", "305.2", TelemetryUpdate(SERIAL, power_w=305.2)),
        ("0/powerdc", "321.0", TelemetryUpdate(SERIAL, dc_power_w=321)),
        ("1/power", "160.5", TelemetryUpdate(SERIAL, dc_channel_w=(1, 160.5))),
        ("6/power", "10.0", TelemetryUpdate(SERIAL, dc_channel_w=(6, 10))),  # HMT-2250: DC channels 0-5 -> 1-6
        ("0/voltage", "231.2", None),
        ("0/yieldtotal", "1234.567", TelemetryUpdate(SERIAL, energy_wh=1234567)),  # kWh, 3 decimals
        ("0/yieldtotal", "0.001", TelemetryUpdate(SERIAL, energy_wh=1)),
        ("0/yieldtotal", "0.000", None),  # the DTU does not have the inverter's counter yet
        ("0/yieldday", "812", None),
        ("1/yieldtotal", "617.2", None),  # a DC input's share: the inverter's own counter is 0/yieldtotal
        ("1/name", "south panel", None),
        ("name", "roof", None),
        ("radio/rssi", "-62", None),
        ("cmd/limit_nonpersistent_absolute", "600", None),
        ("\u0661/power", "10.0", None),  # not an ASCII digit: not a DC input topic
        ("7/power", "10.0", None),  # no Hoymiles inverter has a 7th input
        ("01/power", "10.0", None),
    ],
)
def test_opendtu_telemetry(subtopic, payload, expected):
    assert opendtu().parse(f"solar/{SERIAL}/{subtopic}", payload) == expected


@pytest.mark.parametrize(
    ("subtopic", "payload", "error"),
    [
        ("status/reachable", "yes", "expected 0 or 1, got 'yes'"),
        ("status/reachable", "true", "expected 0 or 1, got 'true'"),
        ("status/limit_relative", "250", "not a percentage between 0 and 100: '250'"),
        ("status/limit_absolute", "-5.00", "not a limit between 0 and 1000000 W: '-5.00'"),
        ("status/limit_absolute", "1e308", "not a number: '1e308'"),
        ("status/last_update", "-5", "not a Unix time: '-5'"),
        ("status/last_update", "99999999999", "not a Unix time: '99999999999'"),
        ("0/power", "1_2_3", "not a number: '1_2_3'"),
        ("0/yieldtotal", "-0.5", "not an energy between 0 and 1000000000 kWh: '-0.5'"),
        ("0/yieldtotal", "1000000000.001", "not an energy between 0 and 1000000000 kWh: '1000000000.001'"),
    ],
)
def test_opendtu_garbage_flags_and_ranges(subtopic, payload, error):
    with pytest.raises(ValueError, match=f"^{re.escape(error)}$"):
        opendtu().parse(f"solar/{SERIAL}/{subtopic}", payload)


def test_opendtu_limit_command():
    driver = OpenDtuConfig(prefix="dtu").create([InverterSettings(serial=SERIAL, max_w=800)])
    command = driver.limit_command(SERIAL, 412.25)
    assert (command.topic, command.payload) == (f"dtu/{SERIAL}/cmd/limit_nonpersistent_absolute", "412.2")
    assert driver.limit_command(SERIAL, 300.0).payload == "300"
    assert driver.limit_command(SERIAL, 6553.5).payload == "6553.5"


def test_opendtu_subscribes_per_inverter():
    driver = OpenDtuConfig().create(
        [InverterSettings(serial=SERIAL, max_w=800), InverterSettings(serial=OTHER_SERIAL, max_w=600)]
    )
    assert driver.subscriptions() == [f"solar/{SERIAL}/#", f"solar/{OTHER_SERIAL}/#"]


# ---- AhoyDTU ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subtopic", "payload", "expected"),
    [
        ("available", "0", TelemetryUpdate("roof", reachable=False, producing=False)),  # OFF
        ("available", "1", TelemetryUpdate("roof", reachable=True, producing=False)),  # STARTING
        ("available", "2", TelemetryUpdate("roof", reachable=True, producing=True)),  # PRODUCING
        ("available", "3", TelemetryUpdate("roof", reachable=True, producing=False)),  # WAS_PRODUCING
        ("available", "4", TelemetryUpdate("roof", reachable=False, producing=False)),  # WAS_ON
        ("last_success", "1763900001", TelemetryUpdate("roof", updated_at=1763900001)),
        ("ch0/P_AC", "71", TelemetryUpdate("roof", power_w=71)),
        ("ch0/P_AC", "0", TelemetryUpdate("roof", power_w=0)),
        ("ch0/P_DC", "74.6", TelemetryUpdate("roof", dc_power_w=74.6)),
        ("ch0/active_PowerLimit", "80", TelemetryUpdate("roof", limit_percent=80)),
        ("ch0/active_PowerLimit", "75.5", TelemetryUpdate("roof", limit_percent=75.5)),
        ("ch1/P_DC", "25", TelemetryUpdate("roof", dc_channel_w=(1, 25))),
        ("ch6/P_DC", "12.3", TelemetryUpdate("roof", dc_channel_w=(6, 12.3))),
        ("ch1/U_DC", "38.9", None),
        ("ch0/YieldTotal", "1234.57", TelemetryUpdate("roof", energy_wh=1234570)),  # kWh, %g: 6 digits
        ("ch0/YieldTotal", "0.123", TelemetryUpdate("roof", energy_wh=123)),
        ("ch0/YieldTotal", "0", None),  # AhoyDTU does not have the inverter's counter yet
        ("ch1/YieldTotal", "617.2", None),  # a DC input's share: the inverter's own counter is on ch0
        ("ch0/PowerLimit", "80", None),  # the manual's name: AhoyDTU has not published it since 0.5.90
        ("ack_pwr_limit", "600.0", None),
        ("radio_stat", '{"tx":12,"success":11}', None),
        ("ch\u0663/P_DC", "1", None),  # not an ASCII digit: not a DC input topic
        ("ch7/P_DC", "1", None),  # no Hoymiles inverter has a 7th input
    ],
)
def test_ahoydtu_telemetry(subtopic, payload, expected):
    assert ahoydtu().parse(f"inverter/roof/{subtopic}", payload) == expected


def test_ahoydtu_limit_read_back_is_active_power_limit():
    """Regression: the driver read ``ch0/PowerLimit``, which AhoyDTU does not publish, so ``limit_w`` was null."""
    assert ahoydtu().parse("inverter/roof/ch0/active_PowerLimit", "80") == TelemetryUpdate("roof", limit_percent=80)


@pytest.mark.parametrize(
    ("subtopic", "payload", "error"),
    [
        ("available", "5", "expected an availability code 0-4, got '5'"),
        ("available", "2.5", "expected an availability code 0-4, got '2.5'"),
        ("available", "-1", "expected an availability code 0-4, got '-1'"),
        ("available", "on", "expected an availability code 0-4, got 'on'"),
        ("available", "\u0662", "expected an availability code 0-4, got '\u0662'"),
        ("ch0/active_PowerLimit", "100.1", "not a percentage between 0 and 100: '100.1'"),
        ("ch0/P_AC", "1e+06", "not a number: '1e+06'"),  # what %g prints from 1 MW on
    ],
)
def test_ahoydtu_garbage(subtopic, payload, error):
    with pytest.raises(ValueError, match=f"^{re.escape(error)}$"):
        ahoydtu().parse(f"inverter/roof/{subtopic}", payload)


def test_ahoydtu_limit_command_addresses_the_index():
    command = ahoydtu().limit_command("roof", 599.6)
    assert (command.topic, command.payload) == ("inverter/ctrl/limit/3", "600W")
    assert ahoydtu().parse("inverter/ctrl/limit/3", "600W") is None
