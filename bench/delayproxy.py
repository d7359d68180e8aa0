#!/usr/bin/env python3
"""A latency-adding HTTP/1.1 proxy in front of the bench's nginx (the CDN), for the rows measured
over a 20 ms network (issue 10):

    python3 bench/delayproxy.py --upstream 127.0.0.1:PORT --delay-ms 20 --ready FILE

Every request's answer starts --delay-ms after the request arrived, as the test Hub does with
its own --delay-ms; the answer itself is then relayed at full speed. One upstream connection per
client connection, kept alive as long as both sides keep theirs. GET and HEAD only (the CDN's
requests carry no body); answers must have a Content-Length (nginx's static answers do).
Writes {"url": ...} to the ready file once listening; exits when its parent does."""

import argparse
import json
import os
import socket
import threading
import time

BUF = 1 << 20


def read_head(sock, buf):
    """(head bytes, rest) of the next message on sock, or (None, b"") at EOF."""
    while b"\r\n\r\n" not in buf:
        d = sock.recv(65536)
        if not d:
            return None, b""
        buf += d
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head, rest


def header(head, name):
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == name:
            return v.strip()
    return None


def relay(client, upstream, delay):
    up = None
    buf = b""
    try:
        while True:
            head, buf = read_head(client, buf)
            if head is None:
                return
            method = head.split(b" ", 1)[0]
            time.sleep(delay)
            if up is None:
                up = socket.create_connection(upstream)
                up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            up.sendall(head + b"\r\n\r\n")
            rhead, rest = read_head(up, b"")
            if rhead is None:
                return
            status = int(rhead.split(b" ", 2)[1])
            n = 0 if method == b"HEAD" or status in (204, 304) else int(header(rhead, b"content-length") or 0)
            client.sendall(rhead + b"\r\n\r\n" + rest[:n])
            left = n - len(rest[:n])
            while left > 0:
                d = up.recv(min(BUF, left))
                if not d:
                    return
                client.sendall(d)
                left -= len(d)
            if (header(rhead, b"connection") or b"").lower() == b"close":
                return
    except OSError:  # a client that gave up (an aborted range) or a reset
        return
    finally:
        client.close()
        if up is not None:
            up.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True, help="HOST:PORT")
    ap.add_argument("--delay-ms", type=float, default=20.0)
    ap.add_argument("--ready", required=True)
    args = ap.parse_args()
    host, port = args.upstream.rsplit(":", 1)
    upstream = (host, int(port))
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(256)
    tmp = args.ready + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"url": "http://127.0.0.1:%d" % ls.getsockname()[1]}, f)
    os.replace(tmp, args.ready)
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()
    while True:
        c, _ = ls.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=relay, args=(c, upstream, args.delay_ms / 1000.0), daemon=True).start()


if __name__ == "__main__":
    main()
