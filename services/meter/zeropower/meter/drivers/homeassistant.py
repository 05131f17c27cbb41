"""Home Assistant: any sensor entity through the REST API, ``GET /api/states/<entity_id>``."""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import Field, HttpUrl, SecretStr

from zeropower.meter.device_time import DeviceTime, parse_device_time
from zeropower.meter.http import JsonHttp, base_url, shown_url
from zeropower.meter.key_path import resolve
from zeropower.meter.reading import MeterError, MeterValues, finite_number, watts
from zeropower.shared.settings import StrictModel

_NOT_A_VALUE = {"unavailable", "unknown"}


class HomeAssistantConfig(StrictModel):
    """A Home Assistant sensor whose state is grid power in W or kW."""

    type: Literal["homeassistant"] = Field(description="Driver reading a Home Assistant entity.")
    url: HttpUrl = Field(description="Home Assistant's address, e.g. http://homeassistant.local:8123.")
    entity_id: str = Field(
        pattern=r"^[a-z0-9_]+\.[a-z0-9_]+$", description="The sensor entity, e.g. sensor.grid_power."
    )
    token: SecretStr = Field(description="A long-lived access token (HA profile → Security).")
    invert: bool = Field(False, description="Flip the sign, for a sensor that counts export as positive.")


class HomeAssistantMeter:
    """Reads one entity's ``state``; only the units W and kW are accepted."""

    netted_counters = False  # no energy counters: the service integrates the power

    def __init__(self, config: HomeAssistantConfig, client: httpx.AsyncClient, timeout_s: float) -> None:
        self._config = config
        self._url = f"{base_url(config.url)}/api/states/{config.entity_id}"
        headers = {"Authorization": f"Bearer {config.token.get_secret_value()}"}
        self._http = JsonHttp(client, timeout_s, headers=headers)
        self.description = f"Home Assistant {shown_url(config.url)} ({config.entity_id})"

    async def read(self) -> MeterValues:
        """Grid power in W, positive = import (after ``invert``), with the entity's last report time.

        That time (``last_reported``, else ``last_updated``) is watched for change by the service: a sensor
        whose integration stopped reporting keeps its last state in HA, with an old time.
        """
        entity = self._config.entity_id
        document = await self._http.get_json(self._url)
        state = resolve(document, "state")
        if state in _NOT_A_VALUE:
            raise MeterError(f"{entity} is {state}")
        attributes = document.get("attributes")
        unit = attributes.get("unit_of_measurement") if isinstance(attributes, dict) else None
        if unit not in {"W", "kW"}:
            raise MeterError(f"{entity} has unit {unit!r}; expected W or kW")
        power = watts(finite_number(state, f"{entity} state"), unit, invert=self._config.invert)
        reported = _reported_at(document, entity)
        return MeterValues(power_w=power, timestamp=reported.unix, device_time=reported)


def _reported_at(document: dict[str, Any], entity: str) -> DeviceTime:
    """When HA last heard from the sensor: ``last_reported`` (HA 2024.3+), else ``last_updated``."""
    key = "last_reported" if "last_reported" in document else "last_updated"
    return parse_device_time(document.get(key), f"{entity} {key}")
