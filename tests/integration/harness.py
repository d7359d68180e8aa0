"""Shared set-up for integration tests: one test Hub per run, a fresh cache per test, and a
helper that runs real programs under the shim."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "hub"))

import fixtures  # noqa: E402
import hubctl  # noqa: E402

BUILD = os.path.join(ROOT, os.environ.get("HFS_BUILD", "build"))
LIB = os.path.join(BUILD, "libhfshim.so")
HFRUN = os.path.join(BUILD, "hfrun")
FIXTURES = os.environ.get("HFS_FIXTURES", os.path.join(ROOT, "build", "fixtures"))
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else shutil.which("python3")

_hub = None
_logdir = None


def hub():
    """The test Hub shared by every test of this run (started on first use)."""
    global _hub, _logdir
    if _hub is None:
        fixtures.build(FIXTURES)
        _logdir = tempfile.mkdtemp(prefix="hfshim-hublog-")
        _hub = hubctl.start(FIXTURES, os.path.join(_logdir, "requests.jsonl"))
    return _hub


def stop_hub():
    global _hub, _logdir
    if _hub is not None:
        _hub.stop()
        _hub = None
    if _logdir:
        shutil.rmtree(_logdir, ignore_errors=True)
        _logdir = None


_facts = None


def facts():
    global _facts
    if _facts is None:
        _facts = fixtures.facts(FIXTURES)
    return _facts


class ShimTest(unittest.TestCase):
    """Each test gets its own empty HF_HOME (so its own cache) unless it shares one on purpose."""

    def setUp(self):
        self.hub = hub()
        self.facts = facts()
        self.tmp = tempfile.mkdtemp(prefix="hfshim-test-")
        self.home = os.path.join(self.tmp, "hf_home")
        os.makedirs(self.home)
        self.hub.clear_faults()
        self.hub.clear_log()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def env(self, extra=None, preload=True, home=None):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("HF_", "HUGGING", "LD_PRELOAD"))}
        env.update({
            "HF_ENDPOINT": self.hub.url,
            "HF_HOME": home or self.home,
            "HF_SHIM_LOG": "warn",
            "LC_ALL": "C.UTF-8",
        })
        extra_pre = os.environ.get("HFS_PRELOAD_EXTRA", "")  # the ASan runtime, for make asan
        if preload:
            env["LD_PRELOAD"] = (extra_pre + ":" if extra_pre else "") + LIB
        elif extra_pre:
            env["LD_PRELOAD"] = extra_pre
        if extra:
            for k, v in extra.items():
                if v is None:
                    env.pop(k, None)
                else:
                    env[k] = v
        return env

    def run_shim(self, cmd, extra=None, check=True, cwd=None, input=None, preload=True,
                 home=None, timeout=300):
        """Run a real program under the shim; cmd is a list, or a string for sh -c."""
        if isinstance(cmd, str):
            cmd = ["sh", "-c", cmd]
        p = subprocess.run(cmd, env=self.env(extra, preload, home), cwd=cwd or self.tmp,
                           input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=timeout)
        if check and p.returncode != 0:
            self.fail("command %r failed (%d)\nstdout: %s\nstderr: %s" % (
                cmd, p.returncode, p.stdout[-2000:], p.stderr.decode(errors="replace")[-4000:]))
        return p

    def py(self, code, **kw):
        return self.run_shim([PY, "-c", code], **kw)

    def fixture_path(self, repo, path="", commit=None):
        """The fixture file behind repo ("acme/tiny", "datasets/acme/many", "buckets/acme/cache")
        at a commit sha (default: the main branch)."""
        for pfx in ("datasets/", "spaces/", "models/"):
            if repo.startswith(pfx):
                repo = repo[len(pfx):]
        if repo.startswith("buckets/"):
            base = self.facts["buckets"][repo[len("buckets/"):]]["dir_on_disk"]
        else:
            r = self.facts["repos"][repo]
            if "dirs_on_disk" in r:
                sha = commit or r["sha"]
                label = [k for k, v in r["commits"].items() if v == sha][0]
                base = r["dirs_on_disk"][label]
            else:
                base = r["dir_on_disk"]
        return os.path.join(base, path) if path else base

    def fixture_bytes(self, repo, path, commit=None):
        with open(self.fixture_path(repo, path, commit), "rb") as f:
            return f.read()

    def tree_listed(self, count=1000):
        """The next `count` revision answers carry no siblings (as the Hub sends for a repo it
        does not list there), so the shim lists the tree: for tests of the tree listing."""
        self.hub.fault("/revision/", "no_siblings", count=count)

    # request-log helpers
    def requests(self):
        return self.hub.requests()

    def assert_no_auth_to_cdn(self):
        leaks = [r for r in self.requests() if r["listener"] == "cdn" and r["auth"]]
        self.assertEqual(leaks, [], "Authorization header sent to the CDN host")

    def assert_no_writes(self):
        writes = [r for r in self.requests() if r.get("write")]
        self.assertEqual(writes, [], "write requests reached the Hub")

    def bytes_fetched(self, path_substr=None):
        return sum(r["bytes"] for r in self.requests()
                   if r["method"] == "GET" and (path_substr is None or path_substr in r["path"])
                   and ("/resolve/" in r["path"] or r["listener"] == "cdn"))
