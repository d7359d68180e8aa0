#!/usr/bin/env python3
"""Proves the test Hub faithful with the official JS client (@huggingface/hub).

    python3 tests/js/run.py

Builds (or reuses) the fixtures ($HFS_FIXTURES, default build/fixtures), starts the test
hub, installs tests/js/node_modules if missing (npm ci), runs `node test.mjs`, then checks
the hub's request log: the CDN never saw an Authorization header and no write request was
made. Exits non-zero on any failure; the last line is "js: N passed, N failed".
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "hub"))

import fixtures  # noqa: E402
import hubctl  # noqa: E402


def npm_install():
    if os.path.isdir(os.path.join(HERE, "node_modules", "@huggingface", "hub")):
        return True
    npm = shutil.which("npm")
    if not npm:
        print("js: npm not found (install nodejs and npm: make deps)", file=sys.stderr)
        return False
    has_lock = os.path.exists(os.path.join(HERE, "package-lock.json"))
    cmd = [npm, "ci" if has_lock else "install", "--no-audit", "--no-fund"]
    print("js: %s (in tests/js)" % " ".join(cmd[1:]), flush=True)
    r = subprocess.run(cmd, cwd=HERE)
    if r.returncode != 0 and has_lock:
        print("js: npm ci failed, trying npm install", flush=True)
        r = subprocess.run([npm, "install", "--no-audit", "--no-fund"], cwd=HERE)
    return r.returncode == 0


def main():
    node = shutil.which("node")
    if not node:
        print("js: node not found (install nodejs and npm: make deps)", file=sys.stderr)
        print("js: 0 passed, 1 failed")
        return 1
    if not npm_install():
        print("js: 0 passed, 1 failed")
        return 1

    t0 = time.time()
    root = fixtures.build(fixtures.default_root(), verbose=True)
    f = fixtures.facts(root)
    print("js: fixtures in %s (%.1fs)" % (root, time.time() - t0), flush=True)

    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="hfshim-js-") as tmp:
        facts_path = os.path.join(tmp, "facts.json")
        with open(facts_path, "w", encoding="utf-8") as fh:
            json.dump(f, fh, ensure_ascii=False)
        with hubctl.start(root) as hub:
            print("js: test hub at %s (cdn %s)" % (hub.url, hub.cdn_url), flush=True)
            env = dict(os.environ, HUB_URL=hub.url, CDN_URL=hub.cdn_url, FACTS_JSON=facts_path)
            t1 = time.time()
            r = subprocess.run([node, "test.mjs"], cwd=HERE, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            out = r.stdout
            # relay node's lines, but keep its "N passed, N failed" out of the last line
            for line in out.splitlines():
                if line.startswith("ok ") or line.startswith("FAIL "):
                    print("js: " + line)
                elif line.strip():
                    print("js| " + line)
            passed += sum(1 for line in out.splitlines() if line.startswith("ok "))
            failed += sum(1 for line in out.splitlines() if line.startswith("FAIL "))
            if r.returncode != 0 and not any(line.startswith("FAIL ") for line in out.splitlines()):
                failed += 1
                print("js: FAIL node exited with %d" % r.returncode)
            print("js: node ran in %.1fs" % (time.time() - t1), flush=True)

            reqs = hub.requests()
            cdn = [e for e in reqs if e["listener"] == "cdn"]
            checks = [
                ("the CDN never saw an Authorization header", not [e for e in cdn if e.get("auth")],
                 [e["path"] for e in cdn if e.get("auth")][:5]),
                ("no write request reached the hub", not [e for e in reqs if e.get("write")],
                 [(e["method"], e["path"]) for e in reqs if e.get("write")][:5]),
                ("LFS downloads went through the CDN", any(e["status"] in (200, 206) for e in cdn),
                 "%d CDN requests" % len(cdn)),
                ("a token was sent to the hub (so the CDN check means something)",
                 any(e.get("auth") for e in reqs if e["listener"] == "hub"), ""),
                ("every request was answered", all(e.get("status") for e in reqs),
                 [e for e in reqs if not e.get("status")][:3]),
            ]
            for name, ok, detail in checks:
                if ok:
                    passed += 1
                    print("js: ok   log: %s" % name)
                else:
                    failed += 1
                    print("js: FAIL log: %s: %s" % (name, detail))
            print("js: %d requests logged (%d hub, %d cdn, %.0f MB served)" % (
                len(reqs), len(reqs) - len(cdn), len(cdn), sum(e.get("bytes", 0) for e in reqs) / 1e6))
            err = hub.stderr()
            if "Traceback" in err:
                failed += 1
                print("js: FAIL the test hub raised:\n" + err)

    print("js: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
