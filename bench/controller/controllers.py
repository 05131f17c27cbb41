"""The benchmarked controllers by name."""

from __future__ import annotations

from collections.abc import Callable

from bench.controller.baselines.hoymiles import HoymilesZeroExport
from bench.controller.baselines.integral import IntegralController
from bench.controller.baselines.lookahead import Lookahead, Reactive
from bench.controller.baselines.onbattery import OnBatteryLimiter
from bench.controller.baselines.oracle import Oracle
from bench.controller.baselines.pwm_integral import PwmIntegral
from bench.controller.product import Zeropower
from bench.controller.protocol import Controller, Setup

Factory = Callable[[Setup], Controller]

#: Controllers of an inverter's limit.
INVERTER: dict[str, Factory] = {
    "zeropower": Zeropower,
    "hoymiles": HoymilesZeroExport,
    "integral": IntegralController,
    "onbattery": OnBatteryLimiter,
    "oracle": Oracle,
    "lookahead": Lookahead,
    "reactive": Reactive,
}
#: Controllers of a heater (surplus diverter).
DIVERTER: dict[str, Factory] = {"zeropower": Zeropower, "pwm-integral": PwmIntegral, "oracle": Oracle}
#: Not baselines: references of what is possible.
REFERENCES = ("oracle", "lookahead", "reactive")
PRODUCT = "zeropower"


def available(*, heater: bool) -> dict[str, Factory]:
    """The controllers that can run a scenario with or without a heater."""
    return DIVERTER if heater else INVERTER
