#!/usr/bin/env python3
"""Bench-only repos for the test Hub, in the format tests/hub/fixtures.py writes.

    python3 bench/bench_fixtures.py [DIR]          # default $HFS_BENCH_FIXTURES or build/bench-fixtures

Generated deterministically (fixed seeds) and reused across runs: a stamp short-circuits the
build, big files are rewritten only when missing or resized (tests/hub/fixtures.py helpers).

  model   bench/files   f50.bin, f200.bin, f500.bin (50/200/500 MiB, LFS)
                        fio/seq100m.bin (100 MiB), fio/f10m.{0..4}.bin, fio/f1m.{0..9}.bin
  dataset acme/many     the test fixtures' 10,000 small files in 100 directories
  dataset bench/tree100k  100,000 empty files in 1,000 directories

Also lays out DIR/cdn/lfs/<sha256> (hard links to the LFS files) for nginx, as the Hub's CDN
serves them, and writes DIR/bench-facts.json: path -> size, sha256, disk path.
"""

import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "hub"))

import fixtures as tfx  # noqa: E402  (tests/hub/fixtures.py)
import hub as thub  # noqa: E402  (tests/hub/hub.py: hashing + hash cache, shared with the server)

VERSION = "3"
TOKEN = "hf_bench_token"  # reads and writes everything (row 9 pushes to bench/push-* repos)
STAMP = ".bench-fixtures-stamp"
MiB = 1024 * 1024
SHAS = {
    "files": tfx.sha_of("bench/files@1"),
    "many": tfx.sha_of("acme/many@1"),
    "tree100k": tfx.sha_of("bench/tree100k@1"),
}
N_TREE = 100000
TREE_DIRS = 1000


def default_root():
    return os.path.abspath(os.environ.get("HFS_BENCH_FIXTURES") or
                           os.path.join(REPO_ROOT, "build", "bench-fixtures"))


def layout(root):
    d = lambda *p: os.path.join(root, *p)  # noqa: E731
    return {
        "files": d("repos", "models", "bench", "files", "main"),
        "many": d("repos", "datasets", "acme", "many", "main"),
        "tree100k": d("repos", "datasets", "bench", "tree100k", "main"),
        "cdn": d("cdn"),
    }


def bench_files():
    """path -> ('big', seed, size)."""
    f = {"f50.bin": ("big", 501, 50 * MiB), "f200.bin": ("big", 502, 200 * MiB),
         "f500.bin": ("big", 503, 500 * MiB), "fio/seq100m.bin": ("big", 510, 100 * MiB)}
    for i in range(5):
        f["fio/f10m.%d.bin" % i] = ("big", 520 + i, 10 * MiB)
    for i in range(10):
        f["fio/f1m.%d.bin" % i] = ("big", 530 + i, 1 * MiB)
    return f


def tree100k_paths():
    per = N_TREE // TREE_DIRS
    return ["d%04d/e%05d" % (i // per, i) for i in range(N_TREE)]


def repos_json(root):
    lay = layout(root)
    rel = lambda k: os.path.relpath(lay[k], root).replace(os.sep, "/")  # noqa: E731
    date = "2026-01-02T03:04:05.000Z"

    def repo(rtype, rid, key, title):
        sha = SHAS[key]
        return {"type": rtype, "id": rid, "private": False, "gated": False, "lastModified": date,
                "createdAt": date, "commits": {sha: rel(key)},
                "commitInfo": {sha: {"title": title, "date": date}}, "refs": {"main": sha}}

    return {"repos": [repo("model", "bench/files", "files", "bench files"),
                      repo("dataset", "acme/many", "many", "Add 10000 files"),
                      repo("dataset", "bench/tree100k", "tree100k", "100000 empty files")],
            "buckets": [], "tokens": {TOKEN: {"read": ["*"], "write": ["*"]}}}


def _is_built(root):
    try:
        with open(os.path.join(root, STAMP), encoding="utf-8") as f:
            if f.read().strip() != VERSION:
                return False
        lay = layout(root)
        for rel, (_, _, size) in bench_files().items():
            if os.path.getsize(os.path.join(lay["files"], rel)) != size:
                return False
        return os.path.exists(os.path.join(root, "bench-facts.json"))
    except OSError:
        return False


def _tree100k(base):
    made = set()
    for p in tree100k_paths():
        ap = os.path.join(base, p)
        d = os.path.dirname(ap)
        if d not in made:
            os.makedirs(d, exist_ok=True)
            made.add(d)
        if not os.path.exists(ap):
            os.close(os.open(ap, os.O_WRONLY | os.O_CREAT, 0o644))


def build(root=None, verbose=False):
    root = os.path.abspath(root or default_root())
    if _is_built(root):
        return root
    os.makedirs(root, exist_ok=True)
    try:
        os.unlink(os.path.join(root, STAMP))
    except FileNotFoundError:
        pass
    lay = layout(root)
    state_path = os.path.join(root, ".fixtures-state.json")
    try:
        with open(state_path, encoding="utf-8") as f:
            state = json.load(f)
    except (OSError, ValueError):
        state = {}

    def log(msg):
        if verbose:
            print("bench fixtures: " + msg, file=sys.stderr, flush=True)

    log("bench/files (%d MiB of pseudo-random data, once)" %
        (sum(s for _, _, s in bench_files().values()) // MiB))
    tfx._write_tree(lay["files"], bench_files(), state, root)
    log("acme/many (10,000 files)")
    tfx._write_tree(lay["many"], tfx.many_files(), state, root)
    log("bench/tree100k (100,000 empty files)")
    _tree100k(lay["tree100k"])
    with open(state_path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(state, f)
    os.replace(state_path + ".tmp", state_path)
    tfx._put(os.path.join(root, "repos.json"), json.dumps(repos_json(root), indent=1).encode())

    log("hashes and the nginx layout (cdn/lfs/<sha256>)")
    cache = thub.HashCache(root)
    facts = {}
    os.makedirs(os.path.join(lay["cdn"], "lfs"), exist_ok=True)
    for rel in sorted(bench_files()):
        ap = os.path.join(lay["files"], rel)
        st = os.stat(ap)
        sha = cache.get(ap, st, ("sha256",))["sha256"]
        facts[rel] = {"size": st.st_size, "sha256": sha, "disk": ap}
        dst = os.path.join(lay["cdn"], "lfs", sha)
        if not (os.path.exists(dst) and os.path.samefile(ap, dst)):
            if os.path.lexists(dst):
                os.unlink(dst)
            os.link(ap, dst)
    cache.save()
    tfx._put(os.path.join(root, "bench-facts.json"), json.dumps(facts, indent=1).encode())
    with open(os.path.join(root, STAMP), "w", encoding="utf-8") as f:
        f.write(VERSION + "\n")
    return root


def facts(root=None):
    root = os.path.abspath(root or default_root())
    with open(os.path.join(root, "bench-facts.json"), encoding="utf-8") as f:
        return json.load(f)


if __name__ == "__main__":
    import time
    t = time.time()
    r = build(sys.argv[1] if len(sys.argv) > 1 else None, verbose=True)
    print("bench fixtures ready in %s (%.1fs)" % (r, time.time() - t), file=sys.stderr)
