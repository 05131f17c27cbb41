"""Batteries beside the diverters: what each may do now, and how one total is split between them.

The fast devices (diverters and batteries: they follow a setpoint within seconds) absorb the grid error on
one axis: the power they take from the house, a battery's charge positive, its discharge negative. Below 0
the total is the batteries' discharge; above 0 it fills batteries and diverters in the configured order.
"""

from __future__ import annotations

from dataclasses import dataclass

from zeropower.shared.messages import DeviceInfo, DeviceState

#: A battery's state of charge older than this is not vouched for: no discharge on it, in s (the actuator's own
#: rule uses the same default).
SOC_MAX_AGE_S = 30.0
#: The inverters count on a battery's charge only as far as it can go on for this long before it is full, in s:
#: about what inverters take to follow a new limit (dead time and ramp, docs: 3-25 s). Counting on a full share
#: of one with a few Wh of room, they would be raised for it, and its charge exported once it is full, until
#: they are cut again.
ROOM_HORIZON_S = 30.0
#: A battery that shows less than its setpoint once it had time to follow (a BMS limiting its current, a cold
#: pack, a device slow to take a command) is given at most this much beyond what it shows, in W: its setpoint
#: does not wind up beyond what it delivers, so a cut reaches its real power at once.
DELIVERY_MARGIN_W = 100.0


@dataclass(frozen=True)
class StorageRange:
    """What a battery may do now: discharge down to ``low_w`` (≤ 0), charge up to ``high_w`` (≥ 0), and why not."""

    low_w: float
    high_w: float
    why_not: str = ""


def storage_range(
    info: DeviceInfo, state: DeviceState | None, soc_age_s: float | None, *, reserve_soc_pct: float = 0.0
) -> StorageRange:
    """A battery's range now: what its actuator reports it may do, or else by its state of charge.

    No discharge on a state older than ``SOC_MAX_AGE_S``, nor at or below ``reserve_soc_pct`` (the user's
    reserve, on top of the battery's own). An actuator that reports its limits (it knows its reserve, BMS
    cut-off and solar pass-through) is followed; otherwise no discharge on an unknown state of charge or at
    the reserve, no charge at the top (one of unknown charge may charge: its actuator stops it).
    """
    if state is None or soc_age_s is None or soc_age_s > SOC_MAX_AGE_S:
        return StorageRange(0.0, info.max_w, "has no recent state: no discharge")
    if state.discharge_limit_w is not None or state.charge_limit_w is not None:
        allowed = _reported_range(info, state)
    else:
        allowed = _range_by_soc(info, state)
    soc = state.soc_pct
    if allowed.low_w < 0 and reserve_soc_pct > 0 and (soc is None or soc <= reserve_soc_pct):
        kept = "unknown" if soc is None else f"{soc:.0f} %"
        return StorageRange(0.0, allowed.high_w, f"at the reserve kept ({kept}, {reserve_soc_pct:g} %): no discharge")
    return allowed


def _range_by_soc(info: DeviceInfo, state: DeviceState) -> StorageRange:
    """No discharge on an unknown state of charge or at the reserve, no charge at the top."""
    storage = info.storage
    soc = state.soc_pct
    if soc is None:
        return StorageRange(0.0, info.max_w, "has no recent state of charge: no discharge")
    if storage is not None and soc <= storage.min_soc_pct:
        return StorageRange(0.0, info.max_w, f"at its reserve ({soc:.0f} %): no discharge")
    if storage is not None and soc >= storage.max_soc_pct:
        return StorageRange(info.min_w, 0.0, f"full ({soc:.0f} %): no charge")
    return StorageRange(info.min_w, info.max_w)


def falls_short(setpoint_w: float, measured_w: float) -> bool:
    """Whether a battery shows less than its setpoint (charge or discharge) by more than ``DELIVERY_MARGIN_W``."""
    if setpoint_w < 0:
        return measured_w > setpoint_w + DELIVERY_MARGIN_W
    return measured_w < setpoint_w - DELIVERY_MARGIN_W


def delivers_more(setpoint_w: float, shown_w: float, measured_w: float) -> bool:
    """Whether a battery that fell short of ``setpoint_w`` showing ``shown_w`` now shows half a margin more."""
    if setpoint_w < 0:
        return measured_w < shown_w - DELIVERY_MARGIN_W / 2
    return measured_w > shown_w + DELIVERY_MARGIN_W / 2


def within_delivery(allowed: StorageRange, setpoint_w: float, shown_w: float) -> StorageRange:
    """``allowed``, in the direction a battery fell short of ``setpoint_w``: ``DELIVERY_MARGIN_W`` past ``shown_w``."""
    short = f"delivers {abs(shown_w):.0f} W of the {abs(setpoint_w):.0f} W asked"
    why = "; ".join(part for part in (allowed.why_not, short) if part)
    if setpoint_w < 0:
        low = max(allowed.low_w, min(allowed.high_w, min(shown_w, 0.0) - DELIVERY_MARGIN_W))
        return StorageRange(low, allowed.high_w, why)
    high = min(allowed.high_w, max(allowed.low_w, max(shown_w, 0.0) + DELIVERY_MARGIN_W))
    return StorageRange(allowed.low_w, high, why)


def lasting_charge_w(info: DeviceInfo, state: DeviceState | None, allowed: StorageRange) -> float:
    """The charge the inverters may count on: ``allowed``'s, as far as the room left lasts ``ROOM_HORIZON_S``.

    The battery itself may take more for the moment (it absorbs what the inverters have yet to follow); as
    its room runs out, the inverters are cut in steps it absorbs, so it fills without a step into export.
    """
    storage = info.storage
    soc = state.soc_pct if state is not None else None
    if storage is None or soc is None:
        return allowed.high_w
    room_wh = max(0.0, storage.max_soc_pct - soc) / 100 * storage.capacity_wh
    return min(allowed.high_w, room_wh * 3600 / ROOM_HORIZON_S)


def _reported_range(info: DeviceInfo, state: DeviceState) -> StorageRange:
    """The range the battery's actuator reports, within the announced limits; a direction not reported: none."""
    low = max(info.min_w, -(state.discharge_limit_w or 0.0))
    high = min(info.max_w, state.charge_limit_w or 0.0)
    soc = "" if state.soc_pct is None else f" at {state.soc_pct:.0f} %"
    if low == 0 and high == 0:
        why = f"held at 0 W by its actuator{soc}"
    elif low == 0:
        why = f"no discharge{soc} (its actuator)"
    elif high == 0:
        why = f"no charge{soc} (its actuator)"
    else:
        why = ""
    return StorageRange(low, high, why)


def split_absorption(
    total_w: float, storage: tuple[float, float], diverters_w: float, *, storage_first: bool
) -> tuple[float, float]:
    """``total_w`` (clamped to the range) as (batteries, diverters).

    Below 0 it is all the batteries' discharge; above 0 the batteries' charge and the diverters' draw (at most
    ``diverters_w``), the first in the order filled first.
    """
    low, high = storage
    total = min(max(total_w, low), high + diverters_w)
    if total <= 0:
        return total, 0.0
    if storage_first:
        batteries = min(total, high)
        return batteries, total - batteries
    diverters = min(total, diverters_w)
    return total - diverters, diverters


def by_room(total_w: float, ranges: dict[str, StorageRange]) -> dict[str, float]:
    """``total_w`` over several batteries in proportion to each one's room that way (discharge or charge)."""
    rooms = {device_id: (-r.low_w if total_w < 0 else r.high_w) for device_id, r in ranges.items()}
    whole = sum(rooms.values())
    if whole <= 0:
        return dict.fromkeys(ranges, 0.0)
    return {device_id: total_w * room / whole for device_id, room in rooms.items()}
