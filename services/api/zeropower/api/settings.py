"""API gateway settings."""

from __future__ import annotations

from pydantic import Field, SecretStr

from zeropower.api.ha_discovery import HaDiscoverySettings
from zeropower.shared.settings import ServiceSettings, StrictModel


class ApiSettings(StrictModel):
    """The HTTP side of the API gateway."""

    host: str = Field("0.0.0.0", description="Address to listen on (0.0.0.0: every interface).")
    port: int = Field(8000, ge=1, le=65535, description="TCP port to listen on.")
    token: SecretStr | None = Field(
        None,
        min_length=1,
        description="When set, state-changing endpoints require it (Authorization: Bearer <token> or ?token=).",
    )
    redirect_allow_origins: list[str] = Field(
        default_factory=list,
        description="Origins (scheme://host[:port]) /api/toggle?redirect= may send the browser to; "
        "relative paths (/...) are always allowed.",
    )
    ha_discovery: HaDiscoverySettings = Field(
        default_factory=HaDiscoverySettings, description="Home Assistant MQTT discovery."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call the API from a browser (CORS); none by default."
    )


class ApiServiceSettings(ServiceSettings):
    """Settings of the API gateway service."""

    api: ApiSettings = Field(default_factory=ApiSettings, description="HTTP server and security.")
