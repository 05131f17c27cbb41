"""What a battery may do now, and what the inverters may count on (``zeropower.controller.storage``)."""

from __future__ import annotations

import pytest

from tests.controller.test_logic import battery_info
from zeropower.controller.storage import ROOM_HORIZON_S, StorageRange, lasting_charge_w, storage_range
from zeropower.shared.messages import DeviceState

BATTERY = battery_info(max_soc_pct=100, response_time_s=5)


def state(soc_pct: float | None, **reported: float) -> DeviceState:
    return DeviceState(
        actuator_id="battery", device_id="bat1", reachable=True, producing=False, soc_pct=soc_pct, **reported
    )


@pytest.mark.parametrize(
    ("soc_pct", "lasting_w"),
    [(50.0, 1200.0), (99.5, 1200.0), (99.9, 240.0), (99.95, 120.0), (100.0, 0.0), (None, 1200.0)],
)
def test_the_inverters_count_on_a_charge_only_as_far_as_the_room_left_lasts(soc_pct, lasting_w):
    # 0.1 % of 2000 Wh is 2 Wh: 240 W for the 30 s the inverters take to follow.
    assert ROOM_HORIZON_S == 30
    allowed = storage_range(BATTERY, state(soc_pct), soc_age_s=1.0)
    assert lasting_charge_w(BATTERY, state(soc_pct), allowed) == pytest.approx(lasting_w)


def test_a_reported_range_is_followed_within_the_announced_limits():
    reported = storage_range(BATTERY, state(5.0, charge_limit_w=2000.0, discharge_limit_w=150.0), soc_age_s=1.0)
    assert reported == StorageRange(-150.0, 1200.0)  # 150 W below the reserve (solar passed through), 1200 W cap
    held = storage_range(BATTERY, state(50.0, charge_limit_w=0.0, discharge_limit_w=0.0), soc_age_s=1.0)
    assert held == StorageRange(0.0, 0.0, "held at 0 W by its actuator at 50 %")
    stale = storage_range(BATTERY, state(50.0, charge_limit_w=500.0, discharge_limit_w=500.0), soc_age_s=31.0)
    assert stale.low_w == 0
