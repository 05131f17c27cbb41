"""How the baselines share a total limit among inverters."""

import pytest

from bench.controller.baselines.onbattery import allocate
from bench.controller.layouts import LAYOUTS
from bench.controller.split import by_nameplate, proportional

THREE = LAYOUTS["three"].inverters
GARAGE, ROOF, BALCONY = (spec.device_id for spec in THREE)


def test_hoymiles_shares_by_nameplate():
    assert by_nameplate(1350, THREE) == {GARAGE: 750, ROOF: 400, BALCONY: 200}


def test_proportional_shares_by_what_each_can_give_within_its_limits():
    shares = proportional(1000, THREE, [1500, 500, 0])
    assert shares == {GARAGE: 750, ROOF: 250, BALCONY: 20}  # the dark one at its 5 % minimum
    more_than_the_sun = proportional(3000, THREE, [1500, 500, 100])  # each above what it can give
    assert more_than_the_sun == pytest.approx({GARAGE: 1500, ROOF: 3000 * 5 / 21, BALCONY: 3000 / 21})
    assert proportional(540, THREE, [0, 0, 0]) == by_nameplate(540, THREE)  # no sun: by nameplate


def test_a_lone_inverter_gets_the_whole_total():
    (single,) = LAYOUTS["single"].inverters
    assert proportional(433.3, [single], [612.7]) == {single.device_id: 433.3}


def test_onbattery_raises_greedily_where_there_is_most_room():
    outputs = {GARAGE: 1000, ROOF: 700, BALCONY: 100}
    assert allocate(600, outputs, THREE) == {GARAGE: 1500, BALCONY: 200}  # room 500, 100 (roof), 300
    assert allocate(200, outputs, THREE) == {GARAGE: 1200}


def test_onbattery_cuts_greedily_where_there_is_most_to_cut():
    outputs = {GARAGE: 300, ROOF: 700, BALCONY: 100}
    assert allocate(-800, outputs, THREE) == {ROOF: 40, GARAGE: 160}
    assert allocate(-100, outputs, THREE) == pytest.approx({ROOF: 600})
