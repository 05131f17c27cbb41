"""The benchmarked controllers by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial

from bench.controller.baselines.hoymiles import HoymilesZeroExport
from bench.controller.baselines.integral import IntegralController
from bench.controller.baselines.lookahead import Lookahead, Reactive
from bench.controller.baselines.observed import ObservedReactive, ObservedStatistical
from bench.controller.baselines.onbattery import OnBatteryLimiter
from bench.controller.baselines.oracle import Oracle
from bench.controller.baselines.paced import Paced
from bench.controller.baselines.pwm_integral import PwmIntegral
from bench.controller.baselines.statistical import Statistical, at_quantile
from bench.controller.product import Zeropower
from bench.controller.protocol import Controller, Setup

Factory = Callable[[Setup], Controller]

#: zeropower at a command budget of 120 an hour per inverter (HMS-xxxW inverters with built-in WiFi).
BUDGETED = "zeropower-120"


def _budgeted(setup: Setup) -> Controller:
    return Zeropower(replace(setup, product=replace(setup.product, commands_per_hour=120)))


#: A reference's name through the product's actuator (its pacing and command budget).
PACED = "paced-"


def _paced(reference: Factory) -> Factory:
    return lambda setup: Paced(reference(setup), setup)


#: The statistical reference's quantiles besides the median: its export/curtailment front.
QUANTILES = (0.2, 0.35, 0.4, 0.45, 0.55, 0.65, 0.8)


#: The references seeing only what zeropower sees (the meter and telemetry), with an exact model of the plant.
OBSERVED_REACTIVE = "observed-reactive"
OBSERVED_STATISTICAL = "observed-statistical"


#: Controllers of an inverter's limit.
INVERTER: dict[str, Factory] = {
    "zeropower": Zeropower,
    BUDGETED: _budgeted,
    "hoymiles": HoymilesZeroExport,
    "integral": IntegralController,
    "onbattery": OnBatteryLimiter,
    "oracle": Oracle,
    "lookahead": Lookahead,
    "reactive": Reactive,
    "statistical": Statistical,
    **{f"statistical-{round(q * 100)}": at_quantile(q) for q in QUANTILES},
    f"{PACED}reactive": _paced(Reactive),
    f"{PACED}statistical": _paced(Statistical),
    **{f"{PACED}statistical-{round(q * 100)}": _paced(at_quantile(q)) for q in QUANTILES},
    OBSERVED_REACTIVE: ObservedReactive,
    OBSERVED_STATISTICAL: ObservedStatistical,
    f"{PACED}{OBSERVED_REACTIVE}": _paced(ObservedReactive),
    f"{PACED}{OBSERVED_STATISTICAL}": _paced(ObservedStatistical),
    **{
        f"{PACED}{OBSERVED_STATISTICAL}-{round(q * 100)}": _paced(partial(ObservedStatistical, quantile=q))
        for q in QUANTILES
    },
}
#: Controllers of a heater (surplus diverter).
DIVERTER: dict[str, Factory] = {"zeropower": Zeropower, "pwm-integral": PwmIntegral, "oracle": Oracle}
PRODUCT = "zeropower"
#: The reference zeropower's targets are set against: the true load every second, no foresight.
REACTIVE = "reactive"
#: The reference for what is out of reach: the dead time and the load's statistics, not its future.
STATISTICAL = "statistical"


def available(*, heater: bool) -> dict[str, Factory]:
    """The controllers that can run a scenario with or without a heater."""
    return DIVERTER if heater else INVERTER
