"""The PWM actuator service: setpoints in, a PWM duty cycle out to a heater (surplus diverter)."""
