"""Available PV power from pvlib's clear-sky model for a real site, times a cloud index."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pvlib

#: Berlin, 34 m; panels 30° tilted, facing south. 1.0 kWp on an 800 W inverter (a common balcony/roof set).
LATITUDE, LONGITUDE, ALTITUDE_M, TZ = 52.52, 13.405, 34, "Europe/Berlin"
TILT_DEG, AZIMUTH_DEG = 30.0, 180.0
KWP = 1.0
#: DC-to-AC system losses (temperature, wiring, inverter efficiency) at the panels' rated irradiance.
PERFORMANCE_RATIO = 0.85


def clear_sky_ac_w(day: str, seconds: int, start_s: int) -> np.ndarray:
    """AC power in W the panels could deliver under a clear sky, per second (computed per minute, interpolated)."""
    minutes = pd.date_range(pd.Timestamp(day, tz=TZ), periods=24 * 60 + 1, freq="1min")
    site = pvlib.location.Location(LATITUDE, LONGITUDE, TZ, ALTITUDE_M)
    sky = site.get_clearsky(minutes, model="ineichen")
    sun = site.get_solarposition(minutes)
    poa = pvlib.irradiance.get_total_irradiance(
        TILT_DEG, AZIMUTH_DEG, sun["apparent_zenith"], sun["azimuth"], sky["dni"], sky["ghi"], sky["dhi"]
    )["poa_global"].fillna(0.0)
    power_per_minute = poa.to_numpy() / 1000.0 * KWP * 1000.0 * PERFORMANCE_RATIO
    t = start_s + np.arange(seconds)
    return np.interp(t, np.arange(len(minutes)) * 60.0, power_per_minute)
