"""Tasmota with an SML script (IR reading head): ``GET /cm?cmnd=Status 10``."""

from __future__ import annotations

from typing import Literal, Self
from urllib.parse import quote, urlencode

import httpx
from pydantic import Field, HttpUrl, SecretStr, model_validator

from zeropower.meter.http import JsonHttp, base_url, secret_value, shown_url
from zeropower.meter.key_path import resolve
from zeropower.meter.reading import (
    WH_PER_UNIT,
    EnergyUnit,
    MeterError,
    MeterValues,
    PowerUnit,
    RawValue,
    finite_number,
    watts,
)
from zeropower.shared.settings import StrictModel


class TasmotaConfig(StrictModel):
    """A Tasmota device whose script publishes meter values under ``StatusSNS.<prefix>``."""

    type: Literal["tasmota"] = Field(description="Driver for Tasmota SML readers.")
    url: HttpUrl = Field(description="The Tasmota's address, e.g. http://192.168.1.60.")
    prefix: str = Field("SML", min_length=1, description="Sensor name the script reports under (e.g. SML, Meter).")
    power_key: str | None = Field(
        None, min_length=1, description="Key of the signed grid power (e.g. curr_w, Power_curr), in unit."
    )
    import_key: str | None = Field(
        None, min_length=1, description="Key of the import power (OBIS 1.7.0), in unit; use with export_key."
    )
    export_key: str | None = Field(
        None, min_length=1, description="Key of the export power (OBIS 2.7.0), in unit; grid = import - export."
    )
    unit: PowerUnit = Field("W", description="Unit the script reports power in: W, kW or mW (its line's unit).")
    energy_import_key: str | None = Field(
        None,
        min_length=1,
        description="Key of the meter's import counter (OBIS 1.8.0, e.g. Total_in), in energy_unit; with "
        "energy_export_key the meter's own counters are published, netted as the utility bills.",
    )
    energy_export_key: str | None = Field(
        None, min_length=1, description="Key of the meter's export counter (OBIS 2.8.0, e.g. Total_out)."
    )
    energy_unit: EnergyUnit = Field("kWh", description="Unit the script reports the counters in: kWh or Wh.")
    invert: bool = Field(False, description="Flip the sign, for a script that counts export as positive.")
    username: str | None = Field(None, description="Web admin user, when a web password is set (usually admin).")
    password: SecretStr | None = Field(None, description="Web password (sent as a query parameter, as Tasmota wants).")

    @model_validator(mode="after")
    def _one_way_to_read_power(self) -> Self:
        split = (self.import_key, self.export_key)
        if self.power_key is None and None in split:
            raise ValueError("set power_key (signed power) or both import_key and export_key")
        if self.power_key is not None and split != (None, None):
            raise ValueError("set either power_key or import_key/export_key, not both")
        if (self.energy_import_key is None) != (self.energy_export_key is None):
            raise ValueError("set both energy_import_key and energy_export_key, or neither")
        return self


class TasmotaMeter:
    """Reads ``Status 10`` and takes the configured keys under ``StatusSNS.<prefix>``.

    Readings carry the time their request was sent: ``StatusSNS.Time`` is the time of the answer, not of the
    script's last meter value, so it cannot show a stuck value either. With the counter keys set, the utility
    meter's own import and export counters (netted across phases, as it bills) go with each reading.
    """

    def __init__(self, config: TasmotaConfig, client: httpx.AsyncClient, timeout_s: float) -> None:
        self._config = config
        self.netted_counters = config.energy_import_key is not None
        password = secret_value(config.password)
        query = {"cmnd": "Status 10"} | ({"user": config.username or "admin", "password": password} if password else {})
        self._url = f"{base_url(config.url)}/cm?{urlencode(query, quote_via=quote)}"  # Status%2010, as documented
        self._http = JsonHttp(client, timeout_s)
        if config.power_key is not None:
            self._terms = [(config.power_key, 1.0)]
        else:  # the validator ensures both keys are set
            self._terms = [(str(config.import_key), 1.0), (str(config.export_key), -1.0)]
        self.description = f"Tasmota {shown_url(config.url)} ({config.prefix})"

    async def read(self) -> MeterValues:
        """Grid power in W, positive = import (the power key, or import minus export; after unit and invert)."""
        status = await self._http.get_json(self._url)
        if isinstance(status, dict) and "WARNING" in status and "StatusSNS" not in status:
            raise MeterError(f"Tasmota refused the command: {status['WARNING']}")
        power = 0.0
        for key, sign in self._terms:
            path = f"StatusSNS/{self._config.prefix}/{key}"
            power += sign * finite_number(resolve(status, path), path)
        power_w = watts(power, self._config.unit, invert=self._config.invert)
        if not self.netted_counters:
            return MeterValues(power_w=power_w)
        config = self._config
        energy_import, energy_export = (
            self._counter(status, key) for key in (config.energy_import_key, config.energy_export_key)
        )
        return MeterValues(power_w=power_w, energy_import=energy_import, energy_export=energy_export)

    def _counter(self, status: object, key: str | None) -> RawValue:
        """A counter as sent; one that is missing stays None, so the service drops both and says why."""
        path = f"StatusSNS/{self._config.prefix}/{key}"
        try:
            value = resolve(status, path)
        except MeterError:
            value = None
        return RawValue(value, path, WH_PER_UNIT[self._config.energy_unit])
