"""Start and drive hfshim's test Hub server from Python tests.

    import hubctl
    with hubctl.start(root) as hub:          # root: a fixture dir (see fixtures.build())
        hub.url, hub.cdn_url, hub.log_path
        hub.fault("/resolve/", "503", count=2, retry_after=1)
        ...
        reqs = hub.requests()                 # parsed request log
        hub.clear_log()

start(root=None, log=None, ...) builds nothing itself: pass root=fixtures.build() (or
omit root to use fixtures.default_root(), built on demand).
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
HUB_PY = os.path.join(HERE, "hub.py")


class Hub:
    """A running test hub (one process, two listeners)."""

    def __init__(self, proc, url, cdn_url, log_path, root, tmpdir):
        self.proc = proc
        self.pid = proc.pid
        self.url = url
        self.cdn_url = cdn_url
        self.log_path = log_path
        self.root = root
        self._tmpdir = tmpdir

    # -- context manager -----------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- control -------------------------------------------------------------------------
    def _post(self, path, obj=None, timeout=10):
        data = json.dumps(obj or {}).encode()
        req = urllib.request.Request(self.url + path, data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read().decode() or "{}")
        except urllib.error.HTTPError as e:
            raise RuntimeError("test hub %s failed: %s %s" % (path, e.code, e.read().decode(errors="replace")))

    def ping(self, timeout=5):
        with urllib.request.urlopen(self.url + "/_test/ping", timeout=timeout) as r:
            return json.loads(r.read().decode())

    def fault(self, match, action, count=1, retry_after=None, delay=None, listener=None, method=None,
              location=None, entries=None):
        """The next `count` requests whose raw path contains `match` fail with `action` (the list
        is in hub.py's docstring: "500", "503", "429", "reset", "garbage", "slow", "drip",
        "truncate", "corrupt", "ignore_range", "redirect" to `location`, "inject" / "endless"
        with `entries`). listener ("hub"/"cdn") and method ("GET"...) narrow the match."""
        obj = {"match": match, "action": str(action), "count": count}
        for k, v in (("retry_after", retry_after), ("delay", delay), ("listener", listener), ("method", method),
                     ("location", location), ("entries", entries)):
            if v is not None:
                obj[k] = v
        return self._post("/_test/fault", obj)

    def set_delay(self, ms, cdn_base=None):
        """Every answer (Hub and CDN listener) starts `ms` after its request; cdn_base (if given)
        is where LFS redirects point from now on ("" = where they pointed at start)."""
        obj = {"ms": ms}
        if cdn_base is not None:
            obj["cdn_base"] = cdn_base
        return self._post("/_test/delay", obj)

    def faults(self):
        """The faults not used up yet."""
        with urllib.request.urlopen(self.url + "/_test/faults", timeout=10) as r:
            return json.loads(r.read().decode())["faults"]

    def clear_faults(self):
        """No faults and no latency any more."""
        return self._post("/_test/clear_faults")

    def set_ref(self, type, id, ref, sha):  # noqa: A002 (mirrors the JSON field names)
        """Moves (or creates) a branch/tag/refs/... of a repo to an existing commit."""
        return self._post("/_test/set_ref", {"type": type, "id": id, "ref": ref, "sha": sha})

    def add_commit(self, type, id, sha, dir, ref=None, title=None, date=None):  # noqa: A002
        """Adds a commit whose files are under root/dir (relative to the fixture root), optionally moving ref."""
        obj = {"type": type, "id": id, "sha": sha, "dir": dir}
        for k, v in (("ref", ref), ("title", title), ("date", date)):
            if v is not None:
                obj[k] = v
        return self._post("/_test/add_commit", obj)

    def reload(self):
        """Re-reads repos.json; faults and the log are kept."""
        return self._post("/_test/reload")

    # -- writes (see hub_write.py) -----------------------------------------------------------
    def create_repo(self, type, id, from_id=None, from_rev=None, from_type="model", private=False):  # noqa: A002
        """A new writable repo whose main is a copy of from_id@from_rev (or empty); its sha."""
        obj = {"type": type, "id": id, "private": private}
        if from_id:
            obj["from"] = {"type": from_type, "id": from_id, "rev": from_rev}
        return self._post("/_test/create_repo", obj)["sha"]

    def repo_info(self, type, id, sha=None):  # noqa: A002
        """{"branches","tags","commits"(oldest first)[,"sha","files"]} straight from the hub's state."""
        obj = {"type": type, "id": id}
        if sha:
            obj["sha"] = sha
        return self._post("/_test/repo", obj)

    def head(self, type, id, branch="main"):  # noqa: A002
        return self.repo_info(type, id)["branches"][branch]

    def commits(self, type, id):  # noqa: A002
        return self.repo_info(type, id)["commits"]

    def files_at(self, type, id, rev):  # noqa: A002
        """path -> {"size","lfs","oid","sha256","disk"} of a commit (branch, tag or sha)."""
        return self.repo_info(type, id, rev)["files"]

    def read_at(self, type, id, rev, path):  # noqa: A002
        """The bytes of a file at a revision, read from the hub's own storage."""
        with open(self.files_at(type, id, rev)[path]["disk"], "rb") as f:
            return f.read()

    # -- request log -----------------------------------------------------------------------
    def wait_idle(self, timeout=15, every=False):
        """Until every request answered so far has its log line (they are logged after the
        response went out, so a client can exit before its line is written); every=True: also
        those still waiting to be answered (a slow fault), at most 10 s."""
        try:
            with urllib.request.urlopen(self.url + "/_test/idle" + ("?all=1" if every else ""),
                                        timeout=timeout) as r:
                r.read()
        except OSError:
            pass

    def requests(self, listener=None):
        """The request log as a list of dicts (optionally only one listener's)."""
        self.wait_idle()
        out = []
        try:
            with open(self.log_path, "r", encoding="utf-8") as f:
                for line in f:
                    line = line.strip()
                    if line:
                        try:
                            e = json.loads(line)
                        except ValueError:
                            continue  # a line being written right now
                        if listener is None or e.get("listener") == listener:
                            out.append(e)
        except FileNotFoundError:
            pass
        return out

    def clear_log(self):
        self.wait_idle(every=True)  # a late line of an earlier request must not land after the clear
        # the server appends (O_APPEND), so truncating in place is safe
        with open(self.log_path, "w"):
            pass

    def stderr(self):
        """What the server printed (tracebacks of server bugs land here)."""
        if not getattr(self, "stderr_path", None):
            return ""
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def writes(self):
        return [e for e in self.requests() if e.get("write")]

    def cdn_auth_requests(self):
        return [e for e in self.requests("cdn") if e.get("auth")]

    # -- lifecycle -------------------------------------------------------------------------
    def stop(self, timeout=10):
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    def env(self, token=None):
        """Environment variables pointing Hugging Face clients at this hub."""
        e = {"HF_ENDPOINT": self.url, "HF_HUB_DISABLE_XET": "1"}
        if token:
            e["HF_TOKEN"] = token
        return e


def start(root=None, log=None, ready_timeout=120, python=None, quiet=True, state=None, delay_ms=0):
    """Starts hub.py on `root` (default: fixtures.default_root(), built if needed).
    `log` defaults to a fresh file in a temporary directory removed by stop(); `state` is the
    dir for what clients write (default: a temporary dir the hub removes when it exits)."""
    if root is None:
        if HERE not in sys.path:
            sys.path.insert(0, HERE)
        import fixtures

        root = fixtures.build()
    root = os.path.abspath(root)
    tmpdir = tempfile.TemporaryDirectory(prefix="hfshim-hub-")
    if log is None:
        log = os.path.join(tmpdir.name, "requests.jsonl")
    log = os.path.abspath(log)
    ready = os.path.join(tmpdir.name, "ready.json")
    cmd = [python or sys.executable, HUB_PY, "--root", root, "--log", log, "--ready", ready, "--exit-with-parent"]
    if state:
        cmd += ["--state", os.path.abspath(state)]
    if delay_ms:
        cmd += ["--delay-ms", str(delay_ms)]
    errpath = os.path.join(tmpdir.name, "hub.stderr")
    errf = open(errpath, "wb") if quiet else None
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=errf, stderr=errf)
    finally:
        if errf:
            errf.close()
    deadline = time.time() + ready_timeout
    while True:
        if os.path.exists(ready):
            with open(ready, "r", encoding="utf-8") as f:
                info = json.load(f)
            hub = Hub(proc, info["hub"], info["cdn"], log, root, tmpdir)
            hub.stderr_path = errpath if quiet else None
            return hub
        if proc.poll() is not None:
            tmpdir.cleanup()
            err = open(errpath, "rb").read().decode(errors="replace") if quiet else ""
            tmpdir.cleanup()
            raise RuntimeError("test hub exited with %s before it was ready (cmd: %s)\n%s" % (proc.returncode, cmd, err))
        if time.time() > deadline:
            proc.kill()
            proc.wait()
            tmpdir.cleanup()
            raise RuntimeError("test hub not ready after %ss" % ready_timeout)
        time.sleep(0.02)
