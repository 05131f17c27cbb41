"""Shelly Gen1 energy meters (3EM, EM): ``GET /status``.

Gen1's ``unixtime`` is the device clock in whole seconds, not when it measured, so readings carry the time
their request was sent, and a device answering with a stuck value cannot be told from a steady load.

Energy counters: each emeter's ``total``/``total_returned`` (Wh) count that one channel's power. With
``channel`` set they are the counters of the power read, so they are handed in. The 3EM's phases have no
netted counter: its per-phase counters summed count one phase feeding in while another draws as both export
and import (ioBroker.shelly issue #369, "Total_returned of Shelly 3EM doesnt Sum all 3 phases"; evcc's
shelly-3em template integrates the power instead), so over ``total_power`` the service integrates the power.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import Field, HttpUrl, SecretStr

from zeropower.meter.http import JsonHttp, base_url, secret_value, shown_url
from zeropower.meter.key_path import resolve
from zeropower.meter.reading import (
    MeterError,
    MeterValues,
    PhaseValues,
    RawValue,
    finite_number,
    optional_number,
)
from zeropower.shared.settings import StrictModel


class ShellyGen1Config(StrictModel):
    """A Shelly 3EM or EM (first generation)."""

    type: Literal["shelly_gen1"] = Field(description="Driver for Shelly Gen1 energy meters.")
    url: HttpUrl = Field(description="The Shelly's address, e.g. http://192.168.1.40.")
    channel: int | None = Field(
        None,
        ge=0,
        le=2,
        description="emeter index to read; unset = the 3EM's total_power over all phases. A Shelly EM needs "
        "0 or 1 (its second clamp often measures PV, so channels are not summed).",
    )
    username: str = Field("admin", description="Login user name (when the Shelly's login is on).")
    password: SecretStr | None = Field(None, description="Login password (HTTP basic auth); unset or empty = no login.")


class ShellyGen1Meter:
    """Reads ``/status``; every emeter read must report ``is_valid: true``."""

    def __init__(self, config: ShellyGen1Config, client: httpx.AsyncClient, timeout_s: float) -> None:
        self._config = config
        self._url = f"{base_url(config.url)}/status"
        password = secret_value(config.password)
        auth = httpx.BasicAuth(config.username, password) if password else None
        self._http = JsonHttp(client, timeout_s, auth)
        which = "total_power" if config.channel is None else f"emeter {config.channel}"
        self.netted_counters = config.channel is not None
        self.description = f"Shelly Gen1 {shown_url(config.url)} ({which})"

    async def read(self) -> MeterValues:
        """Grid power in W, positive = import (``total_power``, or the configured emeter's ``power`` and counters)."""
        status = await self._http.get_json(self._url)
        emeters = resolve(status, "emeters")
        if not isinstance(emeters, list) or not emeters:
            raise MeterError("'emeters' in /status is not a non-empty list")
        channel = self._config.channel
        if channel is None:
            if "total_power" not in status:
                raise MeterError("/status has no 'total_power' (a Shelly EM needs 'channel' set to 0 or 1)")
            for index, emeter in enumerate(emeters):
                _check_valid(index, emeter)
            power = finite_number(status["total_power"], "total_power")
            return MeterValues(power_w=power, phases=[_phase(emeter) for emeter in emeters])
        if channel >= len(emeters):
            raise MeterError(f"channel {channel} does not exist: the device has {len(emeters)} emeters")
        emeter = emeters[channel]
        _check_valid(channel, emeter)
        return MeterValues(
            power_w=finite_number(resolve(emeter, "power"), f"emeters/{channel}/power"),
            phases=[_phase(emeter)],
            energy_import=RawValue(emeter.get("total"), f"emeters/{channel}/total"),
            energy_export=RawValue(emeter.get("total_returned"), f"emeters/{channel}/total_returned"),
        )


def _check_valid(index: int, emeter: Any) -> None:
    if not isinstance(emeter, dict):
        raise MeterError(f"emeters/{index} is not an object")
    if emeter.get("is_valid") is not True:
        raise MeterError(f"emeter {index} reports is_valid {emeter.get('is_valid')!r}: the device's own check failed")


def _phase(emeter: dict[str, Any]) -> PhaseValues:
    return PhaseValues(
        power_w=optional_number(emeter, "power"),
        voltage_v=optional_number(emeter, "voltage"),
        current_a=optional_number(emeter, "current"),
        power_factor=optional_number(emeter, "pf"),
    )
