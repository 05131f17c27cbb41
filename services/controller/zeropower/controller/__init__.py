"""The controller service: grid power in, inverter setpoints out."""
