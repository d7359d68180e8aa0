#!/usr/bin/env python3
"""The cost of each io_uring check on the open path of a virtual file (bypass_cost.c), beside the
warm virtual open it would be added to. Starts the test Hub (tests/hub), warms one file.

    HFS_BENCH_BUILD=build python3 bench/bypass_cost.py
"""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("HFS_BUILD", os.environ.get("HFS_BENCH_BUILD", "build"))
import harness  # noqa: E402


def main():
    d = tempfile.mkdtemp(prefix="hfshim-bypass-cost-")
    exe = os.path.join(d, "bypass_cost")
    subprocess.run(["cc", "-O2", "-o", exe, os.path.join(ROOT, "bench", "bypass_cost.c")], check=True)
    hub = harness.hub()
    try:
        env = dict(os.environ, HF_ENDPOINT=hub.url, HF_HOME=os.path.join(d, "home"),
                   LD_PRELOAD=harness.LIB)
        vpath = "/hf/acme/tiny/config.json"
        subprocess.run(["cat", vpath], env=env, check=True, stdout=subprocess.DEVNULL)
        print("without liburing loaded:", flush=True)
        subprocess.run([exe, vpath], env=env, check=True)
        print("with liburing loaded (every virtual open completes the file; this one is complete):",
              flush=True)
        subprocess.run([exe, vpath], env=dict(env, LD_PRELOAD=harness.LIB + ":liburing.so.2"),
                       check=True)
    finally:
        harness.stop_hub()


if __name__ == "__main__":
    main()
