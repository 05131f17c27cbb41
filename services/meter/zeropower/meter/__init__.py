"""The meter service: reads the grid meter and publishes grid power (W, positive = import)."""
