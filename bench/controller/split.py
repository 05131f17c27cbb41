"""How a controller's total limit is shared among the inverters."""

from __future__ import annotations

from collections.abc import Sequence

from bench.controller.layouts import InverterSpec


def clamp(limit_w: float, spec: InverterSpec) -> float:
    """The limit within the inverter's [5 % of nameplate, nameplate]."""
    return min(max(limit_w, spec.min_limit_w), spec.nameplate_w)


def proportional(total_w: float, inverters: Sequence[InverterSpec], weights: Sequence[float]) -> dict[str, float]:
    """``total_w`` shared in proportion to ``weights`` (by nameplate when they are all 0), each clamped."""
    if sum(weights) <= 0:
        weights = [spec.nameplate_w for spec in inverters]
    whole = sum(weights)
    return {
        spec.device_id: clamp(total_w * (weight / whole), spec) for spec, weight in zip(inverters, weights, strict=True)
    }


def by_nameplate(total_w: float, inverters: Sequence[InverterSpec]) -> dict[str, float]:
    """``total_w`` shared in proportion to the nameplates (HoymilesZeroExport's split)."""
    return proportional(total_w, inverters, [spec.nameplate_w for spec in inverters])
