from zeropower.api.service import main

main()
