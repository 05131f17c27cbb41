"""zeropower API gateway: HTTP endpoints (FastAPI) that talk only MQTT to the other services."""
