"""The mapping rules, table-driven: topic and payload in, line protocol out."""

import json

import pytest

from zeropower.recorder.line_protocol import format_line
from zeropower.recorder.mapping import Mapper
from zeropower.recorder.rules import Rule, compile_pattern, default_rules

T = 1_000  # time of arrival in ns
GRID = {
    "timestamp": 2.5,
    "power_w": -312.4,
    "phases": [{"power_w": -104.1, "voltage_v": 231.2, "current_a": 0.45, "power_factor": -0.98}],
    "energy_import_wh": 5312000.0,
    "energy_export_wh": None,
    "error": None,
}
CONTROLLER = {
    "timestamp": 3,
    "enabled": False,
    "mode": "paused",
    "reason": 'switched "off"',
    "grid_power_w": None,
    "grid_age_s": None,
    "target_w": 20,
    "output_w": 610,
    "limit_w": 800,
    "setpoints_w": {"a1": 500, "b2": 300},
}
DEVICE = {"timestamp": 4, "actuator_id": "dtu", "device_id": "a1", "reachable": True, "producing": False,
          "power_w": 5.5, "dc_power_w": None, "limit_w": 800, "updated_at": 1, "last_command_w": None,
          "last_command_at": None}  # fmt: skip

CASES = [
    (
        "zp/meter/grid",
        GRID,
        [
            "grid power_w=-312.4,energy_import_wh=5312000.0,l1_power_w=-104.1,l1_voltage_v=231.2,l1_current_a=0.45,"
            "l1_power_factor=-0.98 2500000000"
        ],
    ),
    (
        "zp/meter/grid",
        {"timestamp": 2, "power_w": None, "phases": [], "error": "HTTP 401"},
        ['grid error="HTTP 401" 2000000000'],
    ),
    (
        "zp/controller/state",
        CONTROLLER,
        [
            'controller enabled=0i,target_w=20.0,output_w=610.0,limit_w=800.0,mode="paused",'
            'reason="switched \\"off\\"" 3000000000',
            "setpoint,device_id=a1 limit_w=500.0 3000000000",
            "setpoint,device_id=b2 limit_w=300.0 3000000000",
        ],
    ),
    (
        "zp/actuator/dtu/device/a1/state",
        DEVICE,
        ["device,actuator_id=dtu,device_id=a1 reachable=1i,producing=0i,power_w=5.5,limit_w=800.0 4000000000"],
    ),
    (
        "zp/actuator/battery/device/bat1/state",
        {
            **DEVICE,
            "actuator_id": "battery",
            "device_id": "bat1",
            "producing": True,
            "power_w": -420.0,
            "limit_w": -400.0,
            "soc_pct": 57.5,
        },
        [
            "device,actuator_id=battery,device_id=bat1 reachable=1i,producing=1i,power_w=-420.0,limit_w=-400.0,"
            "soc_pct=57.5 4000000000"
        ],
    ),
    (
        "zp/actuator/dtu/state",
        {"timestamp": 5, "actuator_id": "dtu", "mode": "following", "reason": "ok", "commands_sent": 42},
        ['actuator,actuator_id=dtu mode="following",commands_sent=42.0 5000000000'],
    ),
    ("zp/meter/availability", "online", ["availability,service=meter online=1i 1000"]),
    ("zp/actuator/opendtu/availability", "offline", ["availability,service=actuator/opendtu online=0i 1000"]),
    (
        "zp/sim/state",
        {"timestamp": 6, "load_w": 412, "pv_available_w": 1000.5, "grid_w": -1},
        ["sim load_w=412.0,pv_available_w=1000.5,grid_w=-1.0 6000000000"],
    ),
    ("solar/1141/0/power", "305.2", ["opendtu,channel=0,serial=1141 power=305.2 1000"]),
    ("solar/1141/3/yieldtotal", "12.75", ["opendtu,channel=3,serial=1141 yieldtotal=12.75 1000"]),
    ("solar/1141/status/reachable", "1", ["opendtu_status,serial=1141 reachable=1.0 1000"]),
    ("solar/1141/status/name", "HM-600", []),
    ("solar/1141/name", "HM-600", []),
    ("other/dtu/0/power", "7", ["mqtt,topic=other/dtu/0/power value=7.0 1000"]),
    ("home/temp", "21.5", ["mqtt,topic=home/temp value=21.5 1000"]),
    ("home/obj", {"a": {"b": 1, "c": [2, True]}, "s": "x"}, ["mqtt,topic=home/obj a_b=1.0,a_c_0=2.0,a_c_1=1i 1000"]),
    ("home/space topic", "1", ["mqtt,topic=home/space\\ topic value=1.0 1000"]),
    ("zp/set/enabled", "on", []),
    ("home/nan", "nan", []),
    ("home/list", "[1, 2]", []),
    ("home/broken", "{not json", []),
    ("home/far", '{"v": 1, "timestamp": 1e308}', ["mqtt,topic=home/far v=1.0 1000"]),  # beyond the bounds: arrival
    ("home/huge", '{"v": 1, "timestamp": 1180591620717411303424}', ["mqtt,topic=home/huge v=1.0 1000"]),
    ("home/deep", '{"v": ' * 5000 + "1" + "}" * 5000, []),  # nested beyond the parser: text, skipped
    ("home/nested", '{"a": ' * 20 + "1" + "}" * 20, []),  # leaves deeper than MAX_DEPTH are left out
]


@pytest.mark.parametrize(("topic", "payload", "lines"), CASES, ids=[f"{c[0]}:{str(c[1])[:20]}" for c in CASES])
def test_default_rules(topic, payload, lines):
    mapper = Mapper(default_rules(), "zp", ["solar"])
    data = payload if isinstance(payload, str) else json.dumps(payload)
    assert mapper.lines(topic, data.encode(), T) == lines


@pytest.mark.parametrize(
    ("rule", "topic", "payload", "lines"),
    [
        (Rule(topic="h/{room}/state", measurement="room", tags=["room"], text_field="state"), "h/k/state", "open",
         ['room,room=k state="open" 1000']),
        (Rule(topic="h/+/state", measurement="room"), "h/k/state", "open", []),
        (Rule(topic="h/#", measurement=None), "h/x/y", "1", []),
        (Rule(topic="h/#", measurement="h", values={"ON": 1}, value_field="on"), "h", "ON", ["h on=1i 1000"]),
        (Rule(topic="h/x", measurement="h", fields={"t": "a.b"}, time_key=None), "h/x", '{"a": {"b": 1}, '
         '"timestamp": 5}', ["h t=1.0 1000"]),
    ],
)  # fmt: skip
def test_custom_rules(rule, topic, payload, lines):
    assert Mapper([rule], "zp", ["solar"]).lines(topic, payload.encode(), T) == lines


def test_first_match_wins_unless_it_continues():
    first = Rule(topic="a/b", measurement="one", continue_matching=True)
    second = Rule(topic="a/+", measurement="two")
    third = Rule(topic="#", measurement="three")
    assert Mapper([first, second, third], "zp", []).lines("a/b", b"1", T) == [
        "one value=1.0 1000",
        "two value=1.0 1000",
    ]


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        (
            "$prefix/{service+}/availability",
            ["zp/meter/availability", "zp/actuator/x/availability"],
            ["zp/availability"],
        ),
        ("$dtu/{serial}/{channel:[0-9]+}/{field}", ["s1/1/0/power", "s2/1/12/voltage"], ["s1/1/status/x", "x/1/0/p"]),
        ("a/#", ["a", "a/b", "a/b/c"], ["ab", "b/a"]),
        ("a/+/c", ["a/b/c", "a//c"], ["a/b/d", "a/b/c/d"]),
    ],
)
def test_topic_patterns(pattern, matches, misses):
    regex = compile_pattern(pattern, "zp", ["s1", "s2"])
    assert [bool(regex.fullmatch(topic)) for topic in matches] == [True] * len(matches)
    assert [bool(regex.fullmatch(topic)) for topic in misses] == [False] * len(misses)


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"topic": "a/#/b", "measurement": "m"}, "'#' must be the last"),
        ({"topic": "a/{x}", "measurement": "m", "tags": ["y"]}, "no capture y"),
        ({"topic": "a/{x}", "measurement": "m", "value_field": "{z}"}, "no capture z"),
        ({"topic": "a/b+", "measurement": "m"}, "invalid segment"),
    ],
)
def test_invalid_rules_name_the_problem(options, problem):
    with pytest.raises(ValueError, match=problem):
        Rule(**options)


def test_line_protocol_escaping():
    line = format_line("m x,y", {"t=1": "a b,c", "empty": ""}, {"f g": 'say "hi"\\\n', "n": 1}, 5)
    assert line == 'm\\ x\\,y,t\\=1=a\\ b\\,c f\\ g="say \\"hi\\"\\\\ ",n=1i 5'


def test_topics_beyond_the_remembered_ones_map_the_same(monkeypatch):
    monkeypatch.setattr("zeropower.recorder.mapping.MAX_CACHED_TOPICS", 2)
    mapper = Mapper(default_rules(), "zp", ["solar"])
    topics = ["home/a", "home/b", "home/c", "home/a"]  # the third starts the memory afresh
    assert [mapper.lines(topic, b"1", T) for topic in topics] == [[f"mqtt,topic={t} value=1.0 1000"] for t in topics]
