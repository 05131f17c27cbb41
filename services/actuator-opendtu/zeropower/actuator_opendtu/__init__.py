"""The OpenDTU/AhoyDTU actuator service: setpoints in, non-persistent inverter limits out, telemetry normalised."""
