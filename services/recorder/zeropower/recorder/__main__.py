from zeropower.recorder.service import main

main()
