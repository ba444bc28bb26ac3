"""moto_server with the fixes and extensions the operator's tests need (moto[server]==5.2.5).

Usage: python moto_server_compat.py -H 127.0.0.1 -p <port>   (same arguments as moto_server)

Everything lives in e2e/emulator (services/<service>.py per AWS service; see its README).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from emulator.server import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
