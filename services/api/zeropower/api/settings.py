"""API gateway settings."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from zeropower.api.ha_discovery import HaDiscoverySettings
from zeropower.api.influx_history import InfluxHistorySettings
from zeropower.shared.settings import ServiceSettings, StrictModel


class HistorySettings(StrictModel):
    """The chart's history (``GET /api/history``): kept in memory, and read from InfluxDB when configured."""

    minutes: int = Field(
        60, ge=1, le=1440, description="How far back the API keeps power samples in memory (lost at a restart)."
    )
    interval_s: float = Field(1.0, ge=0.1, le=60, description="Shortest time between two samples kept in memory.")
    influxdb: InfluxHistorySettings | None = Field(
        None,
        description="The recorder's InfluxDB, for ranges the memory does not reach back to (after a restart, "
        "beyond `minutes`); unset: memory only.",
    )


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
    max_body_bytes: int = Field(
        65536,
        ge=1024,
        le=16 * 1024 * 1024,
        description="Largest request body accepted, in bytes (64 KiB; a tuning change is < 1 KiB); larger ones get 413 "
        "before they are read, chunked ones as soon as they pass it.",
    )
    max_event_streams_per_client: int = Field(
        8,
        ge=1,
        le=1000,
        description="Live-event streams (GET /api/events) open at once from one client address; 429 beyond. "
        "A browser holds one per open page.",
    )
    max_event_streams: int = Field(
        32, ge=1, le=10000, description="Live-event streams open at once from all clients together; 429 beyond."
    )
    history: HistorySettings = Field(
        default_factory=HistorySettings, description="The web UI chart's history (GET /api/history)."
    )

    @field_validator("redirect_allow_origins")
    @classmethod
    def _origins_only(cls, origins: list[str]) -> list[str]:
        """Each entry is an http(s) origin: scheme://host[:port], nothing after it but an optional /."""
        for origin in origins:
            parts = urlsplit(origin)
            bare = f"{parts.scheme}://{parts.netloc}"
            bare_origin = parts.netloc and "@" not in parts.netloc and origin.rstrip("/").lower() == bare.lower()
            if parts.scheme not in {"http", "https"} or not bare_origin:
                raise ValueError(f"{origin!r} is not an origin: http(s)://host[:port]")
        return [origin.rstrip("/") for origin in origins]


class ApiServiceSettings(ServiceSettings):
    """Settings of the API gateway service."""

    api: ApiSettings = Field(default_factory=ApiSettings, description="HTTP server and security.")
