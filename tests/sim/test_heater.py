"""The simulated heater behind a PWM-driven power controller."""

import pytest

from zeropower.sim.heater import HeaterModel, phase_fired_share
from zeropower.sim.settings import HeaterSettings


@pytest.mark.parametrize(("duty", "share"), [(0.0, 0.0), (0.5, 0.5), (1.0, 1.0), (0.25, 0.0908), (0.75, 0.9092)])
def test_phase_angle_control_is_not_linear_in_duty(duty, share):
    assert phase_fired_share(duty) == pytest.approx(share, abs=1e-4)


def test_power_follows_the_duty_and_is_never_negative():
    heater = HeaterModel(HeaterSettings(rated_w=2000, controller="phase_fired"))
    assert heater.power_w == 0.0
    assert str(round(heater.power_w, 1)) == "0.0"  # not -0.0
    heater.set_duty(1.5)  # clamped
    assert heater.power_w == pytest.approx(2000)
    linear = HeaterModel(HeaterSettings(rated_w=2000, controller="linear"))
    linear.set_duty(0.25)
    assert linear.power_w == pytest.approx(500)
