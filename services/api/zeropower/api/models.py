"""The bodies of the API's requests and answers."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from zeropower.controller.settings import ControllerTunablesUpdate
from zeropower.shared.messages import OnOff


class EnabledBody(BaseModel):
    """Zero-export control on or off."""

    enabled: OnOff = Field(description="`on` or `off`.")


class HealthBody(BaseModel):
    """Whether the API is connected to the MQTT broker."""

    status: str = Field(description="`ok`, or what is wrong.")


def _absent_not_null(schema: dict[str, Any]) -> None:
    """Document each field as its type alone: a field may be left out, but not be null."""
    for field in schema["properties"].values():
        field.pop("default", None)
        options = [option for option in field.pop("anyOf", []) if option.get("type") != "null"]
        if len(options) == 1:
            field.update(options[0])


class ControllerConfigChange(ControllerTunablesUpdate):  # type: ignore[misc,valid-type]
    """A change of some of the controller's tunables, within the controller's own bounds.

    Fields left out keep their value. JSON types exactly: `"5"` is no number and `1` no boolean.
    """

    model_config = ConfigDict(strict=True, json_schema_extra=_absent_not_null)
