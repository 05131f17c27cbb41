"""A synthetic grid meter for trying the service without hardware.

It does not react to inverter limits: PV is a fixed offset. The closed-loop demo instead runs the separate
simulator process (``zeropower.sim``) and reads its simulated Shelly Pro 3EM with the ``shelly_gen2`` driver.
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import Field, PositiveFloat

from zeropower.meter.reading import MeterValues
from zeropower.shared.settings import StrictModel


class SimConfig(StrictModel):
    """Household load made of a base load, appliances switching at random and noise, minus fixed PV."""

    type: Literal["sim"] = Field("sim", description="Synthetic meter (no hardware).")
    base_load_w: float = Field(250.0, ge=0, description="Always-on household load in W.")
    appliances_w: list[PositiveFloat] = Field(
        [120.0, 800.0, 2000.0], description="Appliances that switch on and off at random, in W each."
    )
    switch_probability: float = Field(
        0.02, ge=0, le=1, description="Chance per reading that a given appliance switches on or off."
    )
    noise_w: float = Field(10.0, ge=0, description="Standard deviation of the measurement noise in W.")
    pv_w: float = Field(600.0, ge=0, description="Fixed PV output subtracted from the load in W.")
    seed: int | None = Field(None, description="Random seed for a repeatable sequence; unset = different each run.")


class SimMeter:
    """Each read steps the household once: appliances may switch, then noise is added."""

    netted_counters = False  # no energy counters: the service integrates the power

    def __init__(self, config: SimConfig) -> None:
        self._config = config
        self._random = random.Random(config.seed)
        self._switched_on = [False] * len(config.appliances_w)
        self.description = f"simulated meter (base {config.base_load_w:g} W, PV {config.pv_w:g} W)"

    async def read(self) -> MeterValues:
        """Simulated grid power in W, positive = import."""
        config = self._config
        for index in range(len(self._switched_on)):
            if self._random.random() < config.switch_probability:
                self._switched_on[index] = not self._switched_on[index]
        load = config.base_load_w + sum(w for w, on in zip(config.appliances_w, self._switched_on, strict=True) if on)
        power = load + self._random.gauss(0.0, config.noise_w) - config.pv_w
        return MeterValues(power_w=round(power, 1))
