from zeropower.controller.service import main

main()
