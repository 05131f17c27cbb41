"""A seeded stochastic model of broken clouds: a clear-sky index at 1 s with sharp edges.

Clear and shaded spells alternate, each of exponentially distributed length (means ``clear_s`` and
``shade_s``). In shade the index is drawn uniformly from 0.2-0.45 (thick cumulus); cloud edges pass in
2-8 s (linear ramp); at half of the edges the sun first comes out with cloud enhancement (index 1.05-1.2
for 5-20 s). The index is 1 outside ``window_h``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CloudModel:
    """Parameters of the broken-cloud model."""

    clear_s: float
    shade_s: float
    window_h: tuple[float, float] = (0.0, 24.0)


def clear_sky_index(model: CloudModel, seconds: int, start_s: int, rng: np.random.Generator) -> np.ndarray:
    """Clear-sky index (0.2-1.2) per second for ``seconds`` from ``start_s`` after midnight."""
    index = np.ones(seconds)
    t = 0
    shaded = False
    while t < seconds:
        length = max(5, int(rng.exponential(model.shade_s if shaded else model.clear_s)))
        if shaded:
            level = rng.uniform(0.2, 0.45)
            edge = int(rng.integers(2, 9))
            end = min(t + length, seconds)
            ramp = np.linspace(1.0, level, edge + 1)[1:]
            index[t:end] = level
            index[t : min(t + edge, end)] = ramp[: min(edge, end - t)]
            back = min(edge, seconds - end)
            index[end : end + back] = np.linspace(level, 1.0, edge + 1)[1 : back + 1]
            if rng.random() < 0.5:
                burst = int(rng.integers(5, 21))
                index[end + back : end + back + burst] = rng.uniform(1.05, 1.2)
        t += length
        shaded = not shaded
    hours = (start_s + np.arange(seconds)) / 3600
    outside = (hours < model.window_h[0]) | (hours >= model.window_h[1])
    index[outside] = 1.0
    return index
