"""Splitting a total inverter limit over several inverters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from zeropower.controller.settings import Allocation

#: A share within this of what it can deliver counts as full (rounding).
FULL_TOLERANCE_W = 0.5


@dataclass(frozen=True)
class Share:
    """One inverter's range for this step: its minimum, what it can deliver now, and its priority."""

    device_id: str
    min_w: float
    available_w: float
    priority: int = 0
    max_w: float | None = None  # above what is available: taken only once every share is at its available_w
    headroom_w: float = 0.0  # a limit filled to available_w waits at least this far above it (up to max_w)


def allocate(
    total_w: float, shares: Sequence[Share], method: Allocation, current: Mapping[str, float], alone_w: float = 0.0
) -> dict[str, float]:
    """Split the output ``total_w`` (clamped to the sum of the ranges) over the inverters: their limits.

    Every inverter gets at least its minimum. ``fewest-commands``: from the output each one's limit stands
    for now (``current``), a change up to ``alone_w`` goes to the inverter with the most room for it (a
    raise to the one furthest below what it can deliver, a cut to the one furthest above its minimum): one
    command; a larger change to every inverter in proportion to its room, so their ramps run side by side
    and it takes effect soonest. ``proportional``: the rest above the minimums in
    proportion to each inverter's headroom (available - minimum); ``priority``: it fills inverters in
    priority order (lowest number first). What exceeds every share's available power goes above it, up to
    each ``max_w``: a sun-limited inverter's limit then waits where the load is for when the sun returns; a
    full one waits at least its ``headroom_w`` above what it delivers. The limits thus deliver ``total_w``
    while the sun stays.
    """
    floor = sum(share.min_w for share in shares)
    headrooms = {share.device_id: max(0.0, share.available_w - share.min_w) for share in shares}
    rest = min(max(total_w - floor, 0.0), sum(headrooms.values()))
    result = {share.device_id: share.min_w for share in shares}
    if method == "fewest-commands":
        result = _fewest_commands(floor + rest, shares, current, alone_w)
    elif method == "proportional":
        total_headroom = sum(headrooms.values())
        for share in shares:
            if total_headroom > 0:
                result[share.device_id] += rest * headrooms[share.device_id] / total_headroom
    else:
        for share in sorted(shares, key=lambda s: s.priority):
            portion = min(rest, headrooms[share.device_id])
            result[share.device_id] += portion
            rest -= portion
    # Beyond what is available now, up to each one's maximum, in proportion to that spare range.
    overflow = max(0.0, total_w - floor - sum(headrooms.values()))
    spares = {share.device_id: max(0.0, (share.max_w or 0.0) - max(share.available_w, share.min_w)) for share in shares}
    total_spare = sum(spares.values())
    for share in shares:
        spare = spares[share.device_id]
        beyond = min(overflow, total_spare) * spare / total_spare if total_spare > 0 else 0.0
        full = result[share.device_id] >= max(share.available_w, share.min_w) - FULL_TOLERANCE_W
        result[share.device_id] += max(beyond, min(share.headroom_w, spare) if full else 0.0)
    return result


def _fewest_commands(
    total_w: float, shares: Sequence[Share], current: Mapping[str, float], alone_w: float
) -> dict[str, float]:
    """``total_w`` (within the shares' minimums and available powers) reached from ``current`` in few moves.

    A change up to ``alone_w`` goes to the inverter with the most room for it (one command); a larger one
    to every inverter in proportion to its room, so their ramps run side by side.
    """
    ceiling = {share.device_id: max(share.available_w, share.min_w) for share in shares}
    result = {s.device_id: min(max(current.get(s.device_id, s.min_w), s.min_w), ceiling[s.device_id]) for s in shares}
    change = total_w - sum(result.values())
    if change >= 0:
        rooms = {share.device_id: ceiling[share.device_id] - result[share.device_id] for share in shares}
    else:
        rooms = {share.device_id: result[share.device_id] - share.min_w for share in shares}
    total_room = sum(rooms.values())
    if abs(change) > alone_w and total_room > 0:
        fraction = min(1.0, abs(change) / total_room)
        return {
            device_id: result[device_id] + fraction * rooms[device_id] * (1 if change >= 0 else -1)
            for device_id in result
        }
    for device_id in sorted(rooms, key=rooms.__getitem__, reverse=True):
        step = min(abs(change), rooms[device_id])
        result[device_id] += step if change >= 0 else -step
        change += -step if change >= 0 else step
    return result
