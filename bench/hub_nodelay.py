#!/usr/bin/env python3
"""tests/hub/hub.py with TCP_NODELAY on its connections, for the bench.

hub.py writes a reply's headers and its body with separate send() calls; on a kept-alive
connection Nagle's algorithm then holds the body until the client's delayed ACK (40 ms on
Linux), so every API call after the first on a connection took ~43 ms instead of ~0.5 ms.
The real Hub does not behave so; the bench measures hfshim, not that stall."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "hub"))
import hub  # noqa: E402

hub.Handler.disable_nagle_algorithm = True  # socketserver.StreamRequestHandler sets TCP_NODELAY

if __name__ == "__main__":
    sys.exit(hub.main(sys.argv[1:]))
