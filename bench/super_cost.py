#!/usr/bin/env python3
"""The supervisor's cost per trapped call (README, "Static and Go programs"):

    HFS_BENCH_BUILD=build python3 bench/super_cost.py [--calls N] [--runs R]

A loop of stat() calls in tests/integration/static/fsprobe.c, built static (the supervisor's
case) and dynamic (the shim's), on a real file and on a virtual file, with and without the
supervisor. Prints a Markdown table of nanoseconds per call (median of R runs, min-max). Starts
the test Hub on 127.0.0.1 and stops it at the end; no timing is asserted.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "hub"))
import fixtures  # noqa: E402
import hubctl  # noqa: E402

BUILD = os.path.join(ROOT, os.environ.get("HFS_BENCH_BUILD") or os.environ.get("HFS_BUILD")
                     or "build")
SRC = os.path.join(ROOT, "tests", "integration", "static", "fsprobe.c")


def ns_per_call(cmd, env, real, virt, n):
    out = subprocess.run(cmd + ["statloop", real, str(n)] +
                         (["statloop", virt, str(n)] if virt else []),
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         check=True).stdout.decode().split()
    return [float(x) for x in out if x != "ns"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="hfshim-supercost-")
    st, dy = os.path.join(tmp, "fsprobe-static"), os.path.join(tmp, "fsprobe")
    subprocess.run(["gcc", "-static", "-O2", "-o", st, SRC], check=True)
    subprocess.run(["gcc", "-O2", "-o", dy, SRC], check=True)
    real = os.path.join(tmp, "real.txt")
    with open(real, "w") as f:
        f.write("x\n")
    virt = "/hf/acme/tiny/config.json"
    fx = os.path.join(ROOT, "build", "fixtures")
    fixtures.build(fx)
    hub = hubctl.start(fx, os.path.join(tmp, "requests.jsonl"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "LD_PRELOAD"))}
    env.update(HF_ENDPOINT=hub.url, HF_HOME=os.path.join(tmp, "home"), HF_NO_PUSH="1",
               HF_SHIM_LOG="error")
    hfrun = os.path.join(BUILD, "hfrun")
    rows = [("static, no hfrun (the kernel alone)", [st], False),
            ("static, hfrun: supervised", [hfrun, "--", st], True),
            ("dynamic, hfrun: LD_PRELOAD shim", [hfrun, "--", dy], True),
            ("dynamic, hfrun --supervise", [hfrun, "--supervise", "--", dy], True)]
    try:
        ns_per_call([hfrun, "--", st], env, real, virt, 10)  # warm the tree index
        print("| program | stat, real file (ns) | stat, virtual file (ns) |\n|---|---|---|")
        for name, cmd, v in rows:
            res = [ns_per_call(cmd, env, real, virt if v else None, a.calls)
                   for _ in range(a.runs)]
            cells = []
            for k in range(2):
                xs = [r[k] for r in res if len(r) > k]
                cells.append("%.0f (%.0f-%.0f)" % (statistics.median(xs), min(xs), max(xs))
                             if xs else "ENOENT")
            print("| %s | %s | %s |" % (name, cells[0], cells[1]), flush=True)
    finally:
        hub.stop()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
