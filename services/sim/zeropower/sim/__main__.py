from zeropower.sim.service import main

main()
