"""The bench's servers: nginx as the CDN (LFS blobs by sha256, with Range) and the test Hub for
metadata, whose LFS redirects point at nginx (hub.py --cdn-base). For the rows measured over a
slow network, DelayProxy (delayproxy.py) sits in front of nginx and the Hub delays its own
answers (hubctl.Hub.set_delay, which also points the redirects at the proxy)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
HUB_DIR = os.path.join(REPO_ROOT, "tests", "hub")
sys.path.insert(0, HUB_DIR)

import hubctl  # noqa: E402

NGINX_CONF = """\
worker_processes 2;
{user}
daemon off;
master_process on;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    default_type application/octet-stream;
    access_log off;
    log_format bench '$msec $request_method $uri "$http_range" $status $body_bytes_sent $request_time';
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 100000;
    keepalive_timeout 120s;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        access_log {tmp}/access.log bench;
        location /lfs/ {{ add_header Cache-Control "public, max-age=604800, immutable"; }}
        location /xet/ {{ add_header Cache-Control "public, max-age=604800, immutable"; }}
    }}
}}
"""


def _die_with_parent():
    """preexec_fn: the server gets SIGQUIT if the harness dies without stopping it."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGQUIT)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001
        pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def find_nginx():
    for p in (shutil.which("nginx"), "/usr/sbin/nginx"):
        if p and os.access(p, os.X_OK):
            return p
    return None


class Nginx:
    """nginx in the foreground on 127.0.0.1:<free port>, config and logs in a temp dir."""

    def __init__(self, root):
        self.bin = find_nginx()
        if not self.bin:
            raise RuntimeError("nginx not found: apt-get install nginx-light (or nginx)")
        self.tmp = tempfile.mkdtemp(prefix="hfshim-bench-nginx-")
        self.root = os.path.abspath(root)
        self.proc = None
        for _ in range(5):
            self.port = free_port()
            conf = os.path.join(self.tmp, "nginx.conf")
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(tmp=self.tmp, port=self.port, root=self.root,
                                          user="user root;" if os.geteuid() == 0 else ""))
            self.proc = subprocess.Popen([self.bin, "-p", self.tmp, "-c", conf, "-e", self.tmp + "/error.log"],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=open(os.path.join(self.tmp, "stderr"), "wb"),
                                         start_new_session=True, preexec_fn=_die_with_parent)
            if self._wait_ready():
                break
            self.stop(keep_tmp=True)
        else:
            raise RuntimeError("nginx did not start: %s" % self.errors())
        self.url = "http://127.0.0.1:%d" % self.port

    def _wait_ready(self, timeout=10):
        t = time.time() + timeout
        while time.time() < t:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.02)
        return False

    def errors(self):
        out = ""
        for n in ("stderr", "error.log"):
            try:
                out += open(os.path.join(self.tmp, n), errors="replace").read()
            except OSError:
                pass
        return out

    @property
    def access_log(self):
        return os.path.join(self.tmp, "access.log")

    def clear_log(self):
        # nginx opens its log with O_APPEND: truncating in place is safe
        with open(self.access_log, "w"):
            pass

    def requests(self):
        """[(method, uri, range, status, bytes, request_time)]"""
        out = []
        try:
            with open(self.access_log) as f:
                for line in f:
                    p = line.split()
                    if len(p) >= 7:
                        out.append({"method": p[1], "uri": p[2], "range": p[3].strip('"'), "status": int(p[4]),
                                    "bytes": int(p[5]), "time": float(p[6])})
        except OSError:
            pass
        return out

    def stop(self, keep_tmp=False):
        if self.proc and self.proc.poll() is None:
            # QUIT: graceful; the master is our direct child (no daemon)
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not keep_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


class DelayProxy:
    """bench/delayproxy.py in front of `upstream` (an http://127.0.0.1:PORT URL): each answer
    starts delay_ms after its request."""

    def __init__(self, upstream, delay_ms):
        self.tmp = tempfile.mkdtemp(prefix="hfshim-bench-proxy-")
        ready = os.path.join(self.tmp, "ready.json")
        hostport = upstream.split("://", 1)[1].rstrip("/")
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "delayproxy.py"), "--upstream", hostport,
                                      "--delay-ms", str(delay_ms), "--ready", ready],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.tmp, "stderr"), "wb"),
                                     start_new_session=True, preexec_fn=_die_with_parent)
        t = time.time() + 10
        while not os.path.exists(ready):
            if self.proc.poll() is not None or time.time() > t:
                self.stop()
                raise RuntimeError("delay proxy did not start")
            time.sleep(0.02)
        with open(ready) as f:
            self.url = json.load(f)["url"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def start_hub(root, cdn_base, ready_timeout=300):
    """tests/hub/hub.py on root (with TCP_NODELAY: see hub_nodelay.py), LFS redirects to
    cdn_base; a hubctl.Hub object."""
    tmpdir = tempfile.TemporaryDirectory(prefix="hfshim-bench-hub-")
    log = os.path.join(tmpdir.name, "requests.jsonl")
    ready = os.path.join(tmpdir.name, "ready.json")
    errpath = os.path.join(tmpdir.name, "hub.stderr")
    cmd = [sys.executable, os.path.join(HERE, "hub_nodelay.py"), "--root", root, "--log", log, "--ready", ready, "--exit-with-parent",
           "--cdn-base", cdn_base]
    with open(errpath, "wb") as errf:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=errf, stderr=errf)
    deadline = time.time() + ready_timeout
    while not os.path.exists(ready):
        if proc.poll() is not None or time.time() > deadline:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            raise RuntimeError("test hub did not start: %s" % open(errpath, errors="replace").read())
        time.sleep(0.05)
    with open(ready) as f:
        info = json.load(f)
    h = hubctl.Hub(proc, info["hub"], info["cdn"], log, root, tmpdir)
    h.stderr_path = errpath
    return h


def http_get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read()
