from zeropower.shared.topics import AhoyDtuTopics, OpenDtuTopics, Topics


def test_zeropower_topics_use_the_prefix():
    topics = Topics("home")
    assert topics.grid_power() == "home/meter/grid"
    assert topics.set_enabled() == "home/set/enabled"
    assert topics.availability("controller") == "home/controller/availability"
    assert topics.actuator_setpoints("roof") == "home/actuator/roof/set"
    assert topics.all_device_states() == "home/actuator/+/device/+/state"


def test_opendtu_layout():
    topics = OpenDtuTopics("solar")
    assert topics.limit_command("1141") == "solar/1141/cmd/limit_nonpersistent_absolute"
    assert topics.split("solar/1141/status/reachable") == ("1141", "status/reachable")
    assert topics.split("other/1141/0/power") is None


def test_ahoy_layout():
    topics = AhoyDtuTopics()
    assert topics.limit_command(0) == "inverter/ctrl/limit/0"
    assert topics.split("inverter/HM800/ch0/P_AC") == ("HM800", "ch0/P_AC")
    assert topics.split("inverter/ctrl/limit/0") is None
