"""Shelly Gen2/Gen3/Pro energy meters over RPC: Pro 3EM and 3EM Gen3 (EM), Pro EM and EM Gen3 (EM1).

Each poll is one request for the power. Gen2 answers carry no measurement time: readings carry the time
their request was sent.

Energy counters: in the monophase profile, ``EM1Data`` ``total_act_energy``/``total_act_ret_energy`` (Wh)
count the one channel read, the power published, so they are read in the background every
``energy_interval_s`` (a slow counter request never delays the power) and handed in. In the triphase profile
``EMData`` ``total_act``/``total_act_ret`` are documented as the total active (returned) energy "on all
phases" (Shelly Gen2 API, EMData status): the sums of ``a_``/``b_``/``c_total_act_energy``, each phase counted
on its own, not netted across phases as a utility meter bills. They are not read; the service integrates the
power instead (as evcc does for the Gen1 3EM).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any, Literal

import httpx
from pydantic import Field, HttpUrl, SecretStr

from zeropower.meter.http import JsonHttp, base_url, secret_value, shown_url
from zeropower.meter.key_path import resolve
from zeropower.meter.reading import MeterError, MeterValues, PhaseValues, RawValue, finite_number, optional_number
from zeropower.meter.timing import unless_stopped, wait_for_stop
from zeropower.shared.change_log import ChangeLogger
from zeropower.shared.settings import StrictModel

log = logging.getLogger(__name__)

#: Shelly Gen2+ devices always log in as this user (HTTP digest, SHA-256).
SHELLY_USER = "admin"


class ShellyGen2Config(StrictModel):
    """A Shelly Pro 3EM / 3EM Gen3 (profile triphase) or Pro EM / EM Gen3 / 3EM in profile monophase."""

    type: Literal["shelly_gen2"] = Field(description="Driver for Shelly Gen2/Gen3/Pro energy meters.")
    url: HttpUrl = Field(description="The Shelly's address, e.g. http://192.168.1.50.")
    profile: Literal["triphase", "monophase"] = Field(
        "triphase",
        description="triphase: EM.GetStatus (total of three phases); monophase: EM1.GetStatus (one channel, "
        "Pro EM, EM Gen3, or a 3EM switched to the monophase profile).",
    )
    channel: int = Field(
        0, ge=0, le=2, description="Component id: the EM id (triphase) or the EM1 channel (monophase)."
    )
    password: SecretStr | None = Field(
        None, description="Password of user admin when authentication is on (HTTP digest); unset or empty = none."
    )
    energy: bool = Field(
        True,
        description="Monophase: also read the channel's energy counters (EM1Data) in the background; false: the "
        "service integrates the power. Triphase: no effect (EMData counts each phase on its own, so the "
        "service always integrates the power).",
    )
    energy_interval_s: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="Monophase: time between reads of the energy counters in s, beside the polls (never delaying "
        "the power); counters older than twice this are left out of the readings.",
    )


class ShellyGen2Meter:
    """Reads ``EM.GetStatus`` or ``EM1.GetStatus`` per poll and, monophase, the counters in the background."""

    def __init__(
        self,
        config: ShellyGen2Config,
        client: httpx.AsyncClient,
        timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._rpc = f"{base_url(config.url)}/rpc"
        password = secret_value(config.password)
        auth = httpx.DigestAuth(SHELLY_USER, password) if password else None
        self._http = JsonHttp(client, timeout_s, auth)
        self._clock = clock
        component = "EM" if config.profile == "triphase" else "EM1"
        self._component = component
        self.netted_counters = component == "EM1" and config.energy
        self.description = f"Shelly Gen2 {shown_url(config.url)} ({component} {config.channel})"
        self._energy_problem = ChangeLogger(log, f"{self.description} energy counters")
        self._counters: tuple[RawValue, RawValue, float] | None = None  # import, export, when read (monotonic)

    async def read(self) -> MeterValues:
        """Grid power in W, positive = import (``total_act_power`` or the channel's ``act_power``)."""
        status = await self._get(f"{self._component}.GetStatus")
        if not isinstance(status, dict):
            raise MeterError(f"{self._component}.GetStatus did not answer an object")
        errors = status.get("errors")
        if isinstance(errors, list) and "power_meter_failure" in errors:
            raise MeterError(f"{self._component} {self._config.channel} reports power_meter_failure")
        if self._component == "EM":
            power = finite_number(resolve(status, "total_act_power"), "EM total_act_power")
            phases = [_phase(status, f"{phase}_") for phase in "abc"]
        else:
            power = finite_number(resolve(status, "act_power"), f"EM1 {self._config.channel} act_power")
            phases = [_phase(status, "")]
        energy_import, energy_export = self._fresh_counters()
        return MeterValues(power_w=power, phases=phases, energy_import=energy_import, energy_export=energy_export)

    async def background(self, stop: asyncio.Event) -> None:
        """Read the netted energy counters every ``energy_interval_s`` until ``stop`` (nothing without them)."""
        while self.netted_counters and not stop.is_set():
            await unless_stopped(stop, self._read_counters())
            await wait_for_stop(stop, self._config.energy_interval_s)

    def _fresh_counters(self) -> tuple[RawValue | None, RawValue | None]:
        if self._counters is None:
            return None, None
        energy_import, energy_export, read_at = self._counters
        if self._clock() - read_at > 2 * self._config.energy_interval_s:
            return None, None
        return energy_import, energy_export

    async def _get(self, method: str) -> Any:
        return await self._http.get_json(f"{self._rpc}/{method}", {"id": str(self._config.channel)})

    async def _read_counters(self) -> None:
        """Import and export counters (Wh, checked by the service); a failure is logged and keeps the old ones."""
        method, import_key, export_key = "EM1Data.GetStatus", "total_act_energy", "total_act_ret_energy"
        try:
            data = await self._get(method)
            if not isinstance(data, dict):
                raise MeterError(f"{method} did not answer an object")
        except MeterError as error:
            self._energy_problem.report(f"{error}; publishing power without energy counters")
            return
        except Exception as error:  # a driver bug costs the counters, never the service
            log.debug("reading %s failed", method, exc_info=True)
            self._energy_problem.report(f"driver error {type(error).__name__}: {error}; no energy counters")
            return
        self._energy_problem.report(None)
        self._counters = (
            RawValue(data.get(import_key), f"{method} {import_key}"),
            RawValue(data.get(export_key), f"{method} {export_key}"),
            self._clock(),
        )


def _phase(status: dict[str, Any], prefix: str) -> PhaseValues:
    return PhaseValues(
        power_w=optional_number(status, f"{prefix}act_power"),
        voltage_v=optional_number(status, f"{prefix}voltage"),
        current_a=optional_number(status, f"{prefix}current"),
        power_factor=optional_number(status, f"{prefix}pf"),
    )
