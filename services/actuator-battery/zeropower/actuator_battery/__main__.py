from zeropower.actuator_battery.service import main

main()
