"""The demo's guided tour: short, and every command names the demo's real ports and topics."""

from zeropower.shared.topics import Topics
from zeropower.sim.tour import TourFacts, tour

FACTS = TourFacts(
    mqtt_port=18830,
    api_port=18080,
    meter_pid=4242,
    heater_w=500,
    battery_w=2400,
    battery_wh=50,
    panels_w=1500,
    inverters_w=1200,
    start_h=8,
    seconds_per_hour=30,
    kettle_w=2000,
    kettle_at_s=90,
    stale_after_s=10,
)


def test_tour_is_a_dozen_lines_at_most():
    assert len(tour(FACTS, Topics()).splitlines()) <= 12


def test_tour_names_the_demos_ports_topics_and_meter_process():
    text = tour(FACTS, Topics())
    assert "http://127.0.0.1:18080/ " in text
    assert "curl http://127.0.0.1:18080/api/toggle" in text
    assert "mosquitto_pub -h 127.0.0.1 -p 18830 -t zeropower/set/enabled -m off" in text
    assert """-t zeropower/controller/config/set -m '{"target_w": 200}'""" in text
    assert "-t zeropower/sim/set/load_w -m 150" in text
    assert "kill -STOP 4242" in text
    assert "kill -CONT 4242" in text
    assert "a 500 W heater, a 2400 W battery of only 50 Wh" in text
    assert "the battery charges from the surplus" in text
    assert "the battery discharges instead of importing" in text
    assert "at 90 s          a 2000 W kettle" in text
