"""zeropower battery actuator: sets a storage device's charge/discharge power from setpoints over MQTT."""
