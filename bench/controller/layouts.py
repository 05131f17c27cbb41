"""The installations the bench runs: one to three Hoymiles inverters of different sizes, each on its own panels.

The scenarios' PV is what 1.0 kWp deliver (``pv_avail_w``); an inverter's panels are ``kwp`` times that,
times ``shade`` inside its shading window (a tree or a neighbour's roof over part of the day).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Lowest limit every controller sets: the actuator's default of 5 % of nameplate (below ~5 % some models stop).
MIN_LIMIT_SHARE = 0.05


@dataclass(frozen=True)
class InverterSpec:
    """One inverter of an installation and its panels."""

    device_id: str
    name: str
    nameplate_w: float
    kwp: float = 1.0
    shade: float = 1.0
    shade_h: tuple[float, float] = (0.0, 0.0)

    @property
    def min_limit_w(self) -> float:
        """The lowest limit the controllers set (5 % of nameplate)."""
        return MIN_LIMIT_SHARE * self.nameplate_w

    def pv_w(self, pv_avail_w: float, time_of_day_s: float) -> float:
        """AC power its panels could deliver (before its nameplate clips it) when 1.0 kWp give ``pv_avail_w``."""
        shaded = self.shade_h[0] <= time_of_day_s / 3600 < self.shade_h[1]
        return pv_avail_w * self.kwp * (self.shade if shaded else 1.0)

    def cap_w(self, pv_avail_w: float, time_of_day_s: float) -> float:
        """What it could give: its panels' power, at most its nameplate."""
        return min(self.pv_w(pv_avail_w, time_of_day_s), self.nameplate_w)


@dataclass(frozen=True)
class Layout:
    """An installation: its inverters, all behind one OpenDTU."""

    name: str
    inverters: tuple[InverterSpec, ...]
    description: str

    @property
    def nameplate_w(self) -> float:
        """All inverters' nameplate power together."""
        return sum(inverter.nameplate_w for inverter in self.inverters)

    @property
    def min_limit_w(self) -> float:
        """The lowest total limit the controllers set."""
        return sum(inverter.min_limit_w for inverter in self.inverters)

    def cap_w(self, pv_avail_w: float, time_of_day_s: float) -> float:
        """What all inverters together could give."""
        return sum(inverter.cap_w(pv_avail_w, time_of_day_s) for inverter in self.inverters)


HM800 = InverterSpec("114182912345", "roof", 800.0)
LAYOUTS = {
    layout.name: layout
    for layout in (
        Layout("single", (HM800,), "an HM-800 on 1.0 kWp"),
        Layout(
            "two",
            (HM800, InverterSpec("112182954321", "balcony", 400.0, kwp=0.5)),
            "an HM-800 on 1.0 kWp and an HM-400 on 0.5 kWp",
        ),
        Layout(
            "three",
            (
                InverterSpec("116182967890", "garage", 1500.0, kwp=1.8),
                HM800,
                InverterSpec("112182954321", "balcony", 400.0, kwp=0.5, shade=0.3, shade_h=(10.5, 14.0)),
            ),
            "an HM-1500 on 1.8 kWp, an HM-800 on 1.0 kWp and an HM-400 on 0.5 kWp, "
            "the HM-400's panels shaded to 30 % from 10:30 to 14:00",
        ),
    )
}
