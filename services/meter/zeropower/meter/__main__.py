from zeropower.meter.service import main

main()
