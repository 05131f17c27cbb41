from zeropower.actuator_pwm.service import main

main()
