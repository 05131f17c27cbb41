from zeropower.actuator_opendtu.service import main

main()
