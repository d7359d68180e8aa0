"""Receives one fd over the socket given as fd argv[1] (SCM_RIGHTS) and writes what it reads
from it, from offset 0, to stdout. Run without the shim (tests/integration/test_bypass.py)."""
import array
import os
import socket
import sys

if "libhfshim" in open("/proc/self/maps").read():
    sys.exit("fdrecv: started with the shim loaded")
s = socket.socket(fileno=int(sys.argv[1]))
fds = array.array("i")
msg, anc, flags, addr = s.recvmsg(16, socket.CMSG_SPACE(fds.itemsize))
for level, typ, data in anc:
    if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
        fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
if len(fds) != 1:
    sys.exit("fdrecv: no fd received (%r)" % (msg,))
out = sys.stdout.buffer
off = 0
while True:
    b = os.pread(fds[0], 1 << 20, off)
    if not b:
        break
    out.write(b)
    off += len(b)
